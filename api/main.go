// The blog's API: Gin, with /api/ping and a WebSocket echo on /ws.
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
)

// The default origin check: the browser's Origin must name the host it asked for. nginx
// terminates TLS and passes the Host header and Origin on, so a page of the site itself passes
// and a page of another site gets 403.
var upgrader = websocket.Upgrader{}

func main() {
	r := gin.Default()
	r.GET("/api/ping", func(c *gin.Context) {
		host, _ := os.Hostname()
		c.JSON(http.StatusOK, gin.H{"pong": true, "host": host})
	})
	r.GET("/ws", func(c *gin.Context) {
		conn, err := upgrader.Upgrade(c.Writer, c.Request, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			kind, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(kind, msg); err != nil {
				return
			}
		}
	})
	// a failed listen exits non-zero, so swarm's `restart_policy: on-failure` restarts it
	if err := r.Run(":8080"); err != nil {
		log.Fatalf("api: %v", err)
	}
}
