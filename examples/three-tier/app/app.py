"""A tiny web app: counts visits in MariaDB. Standard library HTTP server plus Debian's python3-pymysql."""
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql


def connect():
    return pymysql.connect(
        host=os.environ.get("DB_HOST", "db"),
        user=os.environ["MYSQL_USER"],
        password=os.environ["MYSQL_PASSWORD"],
        database=os.environ["MYSQL_DATABASE"],
        autocommit=True,
    )


def init_schema():
    # The database may still be starting when depends_on is not honoured; retry for a minute.
    for _ in range(60):
        try:
            with connect() as conn, conn.cursor() as cur:
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS visits ("
                    " id INT AUTO_INCREMENT PRIMARY KEY,"
                    " at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,"
                    " client VARCHAR(64))"
                )
            return
        except pymysql.err.OperationalError as err:
            print("waiting for the database:", err)
            time.sleep(1)
    raise SystemExit("database not reachable")


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(200, {"ok": True})
        try:
            client = self.headers.get("X-Forwarded-For", self.client_address[0])
            with connect() as conn, conn.cursor() as cur:
                cur.execute("INSERT INTO visits (client) VALUES (%s)", (client[:64],))
                cur.execute("SELECT COUNT(*), VERSION() FROM visits")
                count, version = cur.fetchone()
            self.reply(200, {"visits": count, "database": version, "host": os.uname().nodename})
        except pymysql.err.MySQLError as err:
            self.reply(503, {"error": str(err)})


if __name__ == "__main__":
    # PID 1 gets no default signal handling: exit on the SIGTERM that `stop` sends, not after the timeout.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    init_schema()
    print("listening on :8000")
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
