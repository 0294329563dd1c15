// The extension's one secret store: the SecretStorage keys earlier versions wrote are still the
// ones read, kinds never see each other's values, and every value reaches the redactor.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Secrets } from "../../src/extension/secrets.js";

/** SecretStorage's three calls over a Map: the class under test is Secrets, not the editor's store. */
function storage(initial: Record<string, string> = {}) {
  const map = new Map(Object.entries(initial));
  return {
    map,
    get: async (k: string) => map.get(k),
    store: async (k: string, v: string) => void map.set(k, v),
    delete: async (k: string) => void map.delete(k),
  };
}

function redactor() {
  const seen: string[] = [];
  return { seen, addSecret: (v: string) => void seen.push(v) };
}

test("secrets stored under the keys earlier versions wrote are found", async () => {
  const store = storage({
    "metajudge.apiKey.MJ_TEST_KEY": "sk-stored-api-key",
    "metajudge.hostSecret.MJ_TEST_RAY": "ray-token-stored",
    "metajudge.sshPassphrase./home/u/.ssh/id_ed25519": "pass-stored",
  });
  const log = redactor();
  const s = new Secrets(store, log);
  assert.equal(await s.apiKey("MJ_TEST_KEY"), "sk-stored-api-key");
  assert.equal(await s.hostSecret("MJ_TEST_RAY"), "ray-token-stored");
  assert.equal(await s.passphrase("/home/u/.ssh/id_ed25519"), "pass-stored");
  assert.deepEqual(log.seen, ["sk-stored-api-key", "ray-token-stored", "pass-stored"]);
});

test("setting writes the same keys, and kinds do not read each other's values", async () => {
  const store = storage();
  const log = redactor();
  const s = new Secrets(store, log);
  await s.setApiKey("MJ_TEST_SAME", "api-value-1");
  await s.setHostSecret("MJ_TEST_SAME", "host-value-1");
  await s.setPassphrase("/k", "pass-value-1");
  assert.deepEqual(Object.fromEntries(store.map), {
    "metajudge.apiKey.MJ_TEST_SAME": "api-value-1",
    "metajudge.hostSecret.MJ_TEST_SAME": "host-value-1",
    "metajudge.sshPassphrase./k": "pass-value-1",
  });
  assert.equal(await s.apiKey("MJ_TEST_SAME"), "api-value-1");
  assert.equal(await s.hostSecret("MJ_TEST_SAME"), "host-value-1");
  await s.deletePassphrase("/k");
  assert.equal(await s.passphrase("/k"), undefined);
  assert.ok(log.seen.includes("api-value-1") && log.seen.includes("host-value-1") && log.seen.includes("pass-value-1"));
});

test("keys and host secrets fall back to the environment; passphrases never do", async () => {
  process.env.MJ_TEST_ENV_ONLY = "from-the-environment";
  try {
    const s = new Secrets(storage(), redactor());
    assert.equal(await s.apiKey("MJ_TEST_ENV_ONLY"), "from-the-environment");
    assert.equal(await s.hostSecret("MJ_TEST_ENV_ONLY"), "from-the-environment");
    assert.equal(await s.passphrase("MJ_TEST_ENV_ONLY"), undefined);
    assert.deepEqual(await s.apiKeyEnv(["MJ_TEST_ENV_ONLY", "MJ_TEST_UNSET_NAME"]), { MJ_TEST_ENV_ONLY: "from-the-environment" });
  } finally {
    delete process.env.MJ_TEST_ENV_ONLY;
  }
});
