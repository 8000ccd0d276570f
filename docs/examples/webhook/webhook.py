# A manufacturer's submission webhook in Python 3, standard library only: it
# checks Callout's Standard Webhooks signature before it trusts a request.
import base64, hashlib, hmac, json, os, time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["CALLOUT_SIGNING_SECRET"]  # the webhook's whsec_... secret
TOLERANCE = 5 * 60  # seconds between webhook-timestamp and now


def verify(secret, headers, body):
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not ts.isdigit() or abs(time.time() - int(ts)) > TOLERANCE:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256)
    expected = base64.b64encode(mac.digest()).decode()
    # One or more signatures, space-separated: "v1,<base64>".
    for sig in headers.get("webhook-signature", "").split():
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(SECRET, self.headers, body):
            return self.answer(401, {"errors": ["bad signature"]})
        job = json.loads(body)["job"]
        # Record the order here, under the Idempotency-Key header.
        self.answer(200, {"success": True, "id": f"ERP-{job['id']}", "message": "Order received"})

    def answer(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8443"))), Webhook)
print("listening on", server.server_port, flush=True)
server.serve_forever()
