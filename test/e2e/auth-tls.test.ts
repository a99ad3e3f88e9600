/**
 * Authentication and TLS on the compiled binary: `eddy passwd` makes a user
 * hash and a token, a config file defines them with a self-signed certificate
 * (made by openssl here), the broker listens on a non-loopback address (no
 * allow_anonymous needed), and curl, fetch and the binary's own CLI talk HTTPS
 * with the certificate as their CA.
 */
import { describe, expect, it } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { BIN, useBinary } from "../helpers/binary.ts";

const { tmpDir, start } = useBinary();

function sh(cmd: string[], opts: { stdin?: string; env?: Record<string, string> } = {}) {
  const r = Bun.spawnSync(cmd, {
    stdin: opts.stdin !== undefined ? Buffer.from(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe("compiled binary with [auth] and HTTPS", () => {
  it("requires credentials over TLS: curl, fetch and the CLI", async () => {
    const dir = tmpDir();
    const cert = path.join(dir, "cert.pem");
    const key = path.join(dir, "key.pem");
    const ssl = sh([
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-keyout",
      key,
      "-out",
      cert,
    ]);
    expect(ssl.code).toBe(0);

    const user = sh([BIN, "passwd", "--user", "admin"], { stdin: "s3cret!\n" });
    expect(user.code).toBe(0);
    const token = sh([BIN, "passwd", "--token", "--name", "ci"]);
    expect(token.code).toBe(0);
    const tokenValue = /^# (eddy_\S+)$/m.exec(token.stdout)?.[1];
    expect(tokenValue).toBeDefined();

    const config = path.join(dir, "eddy.toml");
    fs.writeFileSync(
      config,
      `[http]\ntls_cert_file = "${cert}"\ntls_key_file = "${key}"\n\n${user.stdout}\n${token.stdout}`,
    );
    const dataDir = path.join(dir, "data");
    // A non-loopback address: the users make allow_anonymous unnecessary.
    const broker = await start(dataDir, [
      "--config",
      config,
      "--http-listen",
      "0.0.0.0:0",
      "--set",
      "listeners.mqtt=off",
      "--set",
      "listeners.coap=off",
    ]);
    const port = Number(broker.listeners.http!.split(":").pop());
    const base = `https://127.0.0.1:${port}`;
    for (let i = 0; i < 100 && !broker.stdout().includes("ready in"); i++) await Bun.sleep(20);
    expect(broker.stdout()).toContain(`https://0.0.0.0:${port}  (credentials required, TLS)`);
    expect(broker.stdout()).not.toContain("WITHOUT TLS");

    const tls = { ca: fs.readFileSync(cert, "utf8") };
    const basic = `Basic ${Buffer.from("admin:s3cret!").toString("base64")}`;
    expect((await fetch(`${base}/health`, { tls })).status).toBe(200);
    const anonymous = await fetch(`${base}/v1/topics`, { tls });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toContain("Basic");
    expect((await fetch(`${base}/v1/topics`, { tls, headers: { authorization: basic } })).status).toBe(200);
    const created = await fetch(`${base}/v1/topics`, {
      method: "POST",
      tls,
      headers: { authorization: `Bearer ${tokenValue}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "secure", partitions: 1 }),
    });
    expect(created.status).toBe(201);
    // Without the CA the certificate is not trusted.
    expect(
      await fetch(`${base}/health`).then(
        () => "connected",
        () => "refused",
      ),
    ).toBe("refused");

    const curl = sh(["curl", "-sS", "--cacert", cert, "-u", "admin:s3cret!", `${base}/v1/topics`]);
    expect(curl.code).toBe(0);
    expect(curl.stdout).toContain('"secure"');
    const curlBad = sh([
      "curl",
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--cacert",
      cert,
      "-u",
      "admin:nope",
      `${base}/v1/topics`,
    ]);
    expect(curlBad.stdout).toBe("401");

    const caEnv = { NODE_EXTRA_CA_CERTS: cert };
    const cliNoCreds = sh([BIN, "topics", "--list", "--url", base], { env: caEnv });
    expect(cliNoCreds.code).toBe(1);
    expect(cliNoCreds.stderr).toContain("--token TOKEN (or set EDDY_TOKEN)");
    const cli = sh([BIN, "topics", "--list", "--url", base], { env: { ...caEnv, EDDY_TOKEN: tokenValue! } });
    expect(cli.stderr).toBe("");
    expect(cli.stdout).toContain("secure");

    broker.proc.kill("SIGTERM");
    expect(await broker.proc.exited).toBe(0);
  }, 60_000);
});
