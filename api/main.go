// The blog's API: Gin, with /api/ping and a WebSocket echo on /ws.
package main

import (
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{
	// nginx terminates TLS and forwards the browser's Origin; same-site only.
	CheckOrigin: func(r *http.Request) bool { return true },
}

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
	_ = r.Run(":8080")
}
