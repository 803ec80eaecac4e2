import os
from flask import Flask
from redis import Redis

app = Flask(__name__)
redis = Redis.from_url(os.environ["REDIS_URL"])


@app.route("/")
def hello():
    return f"Hello! Seen {redis.incr('hits')} times.\n"
