import { test } from "node:test";
import assert from "node:assert/strict";
import { openExecutor, resolveHost } from "../../src/core/remote/hosts.js";
import { MetajudgeError } from "../../src/core/errors.js";
import type { HostProfile } from "../../src/core/schema.js";
import type { HostDeps } from "../../src/core/remote/types.js";
import { startRayServer } from "../support/ray-server.js";

const deps = (secrets: Record<string, string> = {}): HostDeps => ({
  sshConfigFile: "/nonexistent/ssh_config",
  knownHostsFile: "/nonexistent/known_hosts",
  confirmHostKey: async () => false,
  passphrase: async () => undefined,
  secret: async (name) => secrets[name],
});

test("the experiment's host wins by name; settings are validated; an unknown name lists the known ones", () => {
  const config: Record<string, HostProfile> = { gpu: { kind: "local", workdir: "~/from-config" } };
  const settings = { gpu: { kind: "local", workdir: "~/from-settings" }, box: { kind: "ssh", ssh: { host: "box" } }, bad: { kind: "ssh" } };
  assert.equal(resolveHost("gpu", config, settings).workdir, "~/from-config");
  const box = resolveHost("box", config, settings);
  assert.equal(box.kind, "ssh");
  assert.equal(box.workdir, "~/metajudge", "defaults are filled in");
  assert.throws(
    () => resolveHost("bad", config, settings),
    (e) => e instanceof MetajudgeError && e.reason === "badInput" && /"bad".*ssh/.test(e.message),
  );
  assert.throws(
    () => resolveHost("nope", config, settings),
    (e) => e instanceof MetajudgeError && /known hosts: bad, box, gpu/.test(e.message),
  );
  assert.throws(
    () => resolveHost("nope"),
    (e) => e instanceof MetajudgeError && /none is defined/.test(e.message),
  );
});

test("openExecutor: local runs here; ray reads its token from the secrets and refuses to go without one", async () => {
  const local = await openExecutor({ kind: "local", workdir: "~/metajudge" }, deps());
  assert.equal(local.kind, "local");
  assert.equal((await local.shell!.exec("echo ok")).stdout, "ok\n");
  local.close();
  const ray = await startRayServer({ token: "t0k" });
  try {
    const profile: HostProfile = { kind: "ray", address: ray.url, auth_token_env: "RAY_TOKEN", workdir: "/tmp", gpus: 0 };
    await assert.rejects(
      openExecutor(profile, deps()),
      (e) => e instanceof MetajudgeError && e.reason === "auth" && /RAY_TOKEN/.test(e.message),
    );
    const ex = await openExecutor(profile, deps({ RAY_TOKEN: "t0k" }));
    assert.equal((await ex.status({ dir: "/tmp", raySubmissionId: "none" })).state, "lost");
    assert.equal(ray.requests.at(-1)?.headers["x-ray-authorization"], "Bearer t0k");
    ex.close();
  } finally {
    await ray.close();
  }
});
