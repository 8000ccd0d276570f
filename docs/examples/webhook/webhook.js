// A manufacturer's submission webhook in Node.js, no dependencies: it checks
// Callout's Standard Webhooks signature before it trusts a request.
const crypto = require("node:crypto");
const http = require("node:http");

const SECRET = process.env.CALLOUT_SIGNING_SECRET; // the webhook's whsec_... secret
const TOLERANCE = 5 * 60; // seconds between webhook-timestamp and now

function verify(secret, headers, body) {
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"] || "";
  if (!id || !/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > TOLERANCE) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = crypto.createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest();
  // One or more signatures, space-separated: "v1,<base64>".
  return (headers["webhook-signature"] || "").split(" ").some((sig) => {
    const [version, value] = sig.split(",");
    const got = Buffer.from(value || "", "base64");
    return version === "v1" && got.length === expected.length && crypto.timingSafeEqual(got, expected);
  });
}

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const answer = (status, value) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (!verify(SECRET, req.headers, body)) return answer(401, { errors: ["bad signature"] });
    const { job } = JSON.parse(body);
    // Record the order here, under the Idempotency-Key header.
    answer(200, { success: true, id: `ERP-${job.id}`, message: "Order received" });
  });
}).listen(Number(process.env.PORT || 8443), "127.0.0.1", function () {
  console.log(`listening on ${this.address().port}`);
});
