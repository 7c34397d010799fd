"""Benchmark of a login with a second factor (issue 12 item 1).

Prints the time of connect + login + one ``true`` through a new SSHRunner (median,
min and max of ``--rounds``), on the key-only test sshd (scripts/services/start-sshd.sh)
and on the key + TOTP sshd (start-sshd-mfa.sh), where a login prompter answers the
code at once (computed as RFC 6238 from the test secret): the cost of the second
factor on the server (PAM) and in simjobs (the question's thread), without a person.

Needs the services (as root, to read the TOTP secret): ``bash
scripts/services/start-sshd.sh`` and ``bash scripts/services/start-sshd-mfa.sh``.
Usage: ``python bench/ssh_login.py [--rounds 20]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import statistics
import struct
import time
from pathlib import Path

from simjobs.interfaces.runner import SSHSettings
from simjobs.interfaces.ssh_transport import SSHRunner


def exports(env_file: Path) -> dict[str, str]:
    values = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            values[key] = value
    return values


def totp(secret: str) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def measure(settings: SSHSettings, rounds: int, prompter=None) -> list[float]:
    times = []
    for _ in range(rounds):
        runner = SSHRunner(settings, interface="bench", prompter=prompter, use_ssh_config=False)
        try:
            started = time.perf_counter()
            runner.run("true")
            times.append(time.perf_counter() - started)
        finally:
            runner.close()
    return times


def line(what: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return (f"{what:<28} median {statistics.median(ms):6.1f} ms   min {min(ms):6.1f} ms   "
            f"max {max(ms):6.1f} ms   ({len(ms)} logins)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sshd-dir", default="/tmp/simjobs-sshd")
    parser.add_argument("--mfa-dir", default="/tmp/simjobs-sshd-mfa")
    args = parser.parse_args()

    plain = exports(Path(args.sshd_dir) / "env")
    plain_settings = SSHSettings(plain["SIMJOBS_SSH_HOST"], int(plain["SIMJOBS_SSH_PORT"]),
                                 plain["SIMJOBS_SSH_USER"], (plain["SIMJOBS_SSH_KEY"],),
                                 plain["SIMJOBS_SSH_KNOWN_HOSTS"])
    mfa = exports(Path(args.mfa_dir) / "env")
    mfa_settings = SSHSettings(mfa["SIMJOBS_SSH_MFA_HOST"], int(mfa["SIMJOBS_SSH_MFA_PORT"]),
                               mfa["SIMJOBS_SSH_MFA_USER"], (mfa["SIMJOBS_SSH_MFA_KEY"],),
                               mfa["SIMJOBS_SSH_MFA_KNOWN_HOSTS"])
    secret = Path(mfa["SIMJOBS_SSH_MFA_TOTP_SECRET"]).read_text().strip()
    asked = []

    def prompter(challenge):
        asked.append(challenge)
        return [totp(secret)]

    print(line("key only (port %d)" % plain_settings.port,
               measure(plain_settings, args.rounds)))
    print(line("key + TOTP code (port %d)" % mfa_settings.port,
               measure(mfa_settings, args.rounds, prompter)))
    print(f"questions asked: {len(asked)} (one per login)")


if __name__ == "__main__":
    main()
