#!/usr/bin/env bash
# A throwaway OpenSSH server on 127.0.0.1 for the remote-host tests: its own host key, its own client
# keys, a plain user (root's shell start-up is slow), and an ssh_config + known_hosts that point at it.
#   sshd.sh [start]   idempotent; prints the env file's path (a running server in the same dir is reused)
#   sshd.sh stop      kills exactly the PID recorded at start
# Env: MJ_SSHD_DIR (default /tmp/metajudge-sshd), MJ_SSHD_PORT (default: a free port). Run as root.
set -euo pipefail

DIR="${MJ_SSHD_DIR:-/tmp/metajudge-sshd}"
USER_NAME=mjremote
SSHD=/usr/sbin/sshd

die() { echo "sshd.sh: $*" >&2; exit 1; }
alive() { [[ -f "$DIR/sshd.master" ]] && kill -0 "$(cat "$DIR/sshd.master")" 2>/dev/null; }

stop() {
  if [[ -f "$DIR/sshd.master" ]]; then
    local pid; pid="$(cat "$DIR/sshd.master")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$DIR/sshd.master"
  fi
}

install_packages() {
  [[ -x "$SSHD" && -x /usr/bin/ssh-keygen ]] && return 0
  # Without a policy-rc.d that says no, the package would start a system sshd on 0.0.0.0:22.
  local guard=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    guard=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server openssh-client coreutils >/dev/null
  [[ -n "$guard" ]] && rm -f /usr/sbin/policy-rc.d
  return 0
}

ensure_user() {
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    # Another test starting its own server at the same moment may have just created it.
    useradd --create-home --home-dir "/home/$USER_NAME" --shell /bin/bash "$USER_NAME" || id "$USER_NAME" >/dev/null
  fi
  # useradd leaves the password "!" (locked), and without PAM sshd refuses locked accounts even for keys.
  usermod -p '*' "$USER_NAME"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  local p
  for _ in $(seq 100); do
    p=$(( 20000 + RANDOM % 40000 ))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port found on 127.0.0.1"
}

keys() {
  mkdir -p "$DIR"
  # sshd reads AuthorizedKeysFile as the user, so the folder must be traversable; private keys stay 0600.
  chmod 755 "$DIR"
  [[ -f "$DIR/host_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C mj-test-host -f "$DIR/host_ed25519"
  [[ -f "$DIR/client_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C mj-test-client -f "$DIR/client_ed25519"
  if [[ ! -f "$DIR/client_enc_ed25519" ]]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$DIR/passphrase")
    ssh-keygen -q -t ed25519 -N "$(cat "$DIR/passphrase")" -C mj-test-encrypted -f "$DIR/client_enc_ed25519"
  fi
  chmod 600 "$DIR/host_ed25519" "$DIR/client_ed25519" "$DIR/client_enc_ed25519" "$DIR/passphrase"
  cat "$DIR/client_ed25519.pub" "$DIR/client_enc_ed25519.pub" > "$DIR/authorized_keys"
  chmod 644 "$DIR/authorized_keys"
}

write_sshd_config() {
  local port="$1"
  cat > "$DIR/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $DIR/host_ed25519
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes no
AllowUsers $USER_NAME
AllowTcpForwarding yes
MaxStartups 50:30:100
ClientAliveInterval 15
ClientAliveCountMax 4
PrintMotd no
PrintLastLog no
Subsystem sftp internal-sftp
LogLevel VERBOSE
CONF
}

# What clients need, written once the server listens: aliases, the pinned host key, an env file.
write_client_files() {
  local port="$1"
  cat > "$DIR/ssh_config" <<CONF
Host mj-loop
  HostName 127.0.0.1
  Port $port
  User $USER_NAME
  IdentityFile $DIR/client_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $DIR/known_hosts

Host mj-jump
  HostName 127.0.0.1
  Port $port
  User $USER_NAME
  IdentityFile $DIR/client_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $DIR/known_hosts
  ProxyJump mj-loop

Host mj-enc
  HostName 127.0.0.1
  Port $port
  User $USER_NAME
  IdentityFile $DIR/client_enc_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $DIR/known_hosts
CONF
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$DIR/host_ed25519.pub")" > "$DIR/known_hosts"
  cat > "$DIR/env" <<CONF
MJ_SSHD_DIR=$DIR
MJ_SSHD_PORT=$port
MJ_SSHD_USER=$USER_NAME
MJ_SSHD_HOST=127.0.0.1
MJ_SSHD_CONFIG=$DIR/ssh_config
MJ_SSHD_KNOWN_HOSTS=$DIR/known_hosts
MJ_SSHD_KEY=$DIR/client_ed25519
MJ_SSHD_ENC_KEY=$DIR/client_enc_ed25519
MJ_SSHD_PASSPHRASE_FILE=$DIR/passphrase
MJ_SSHD_HOST_KEY_PUB=$DIR/host_ed25519.pub
MJ_SSHD_PID=$(cat "$DIR/sshd.master")
CONF
}

start() {
  [[ "$(id -u)" == 0 ]] || die "must run as root (it creates the user $USER_NAME and starts sshd)"
  if alive && [[ -f "$DIR/env" ]]; then echo "$DIR/env"; return 0; fi
  install_packages
  ensure_user
  keys
  mkdir -p /run/sshd # privilege separation folder, normally made by the init script we never run
  local tries=0 port
  while :; do
    tries=$((tries + 1))
    port="${MJ_SSHD_PORT:-$(pick_port)}"
    write_sshd_config "$port"
    "$SSHD" -t -f "$DIR/sshd_config" || die "sshd -t rejected $DIR/sshd_config"
    # setsid: the server outlives this script and the test's process group; $! is sshd itself.
    setsid "$SSHD" -D -e -f "$DIR/sshd_config" </dev/null >"$DIR/sshd.log" 2>&1 &
    echo $! > "$DIR/sshd.master"
    for _ in $(seq 100); do
      grep -q "Server listening" "$DIR/sshd.log" 2>/dev/null && break
      kill -0 "$(cat "$DIR/sshd.master")" 2>/dev/null || break
      sleep 0.05
    done
    if alive && grep -q "Server listening" "$DIR/sshd.log"; then break; fi
    stop
    # Another process may have taken the port between the check and the bind: try another one.
    [[ -z "${MJ_SSHD_PORT:-}" && $tries -lt 5 ]] || die "sshd did not start; see $DIR/sshd.log: $(tail -3 "$DIR/sshd.log")"
  done
  write_client_files "$port"
  echo "$DIR/env"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: sshd.sh [start|stop]" ;;
esac
