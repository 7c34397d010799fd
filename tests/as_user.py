"""Run simjobs as another (unprivileged) user: ``python as_user.py USER cli ARGS...`` runs
the ``simjobs`` command, ``python as_user.py USER code TEXT`` runs Python code
(which finds its arguments in ``sys.argv[1:]``).

Started as root. The interpreter may live where other users cannot read (``/root``), so
everything the command needs is imported first, as root, and only then does the
process become USER (its groups included): what it does on disk is USER's alone.
"""

import importlib
import os
import pkgutil
import pwd
import sys

import encodings
import importlib.readers  # noqa: F401 - resources.files, after the switch
import importlib.resources  # noqa: F401

for module in pkgutil.iter_modules(encodings.__path__):
    try:
        importlib.import_module("encodings." + module.name)
    except Exception:  # noqa: BLE001 - platform-specific codecs
        pass

import simjobs  # noqa: E402

for module in pkgutil.walk_packages(simjobs.__path__, "simjobs."):
    if not module.name.endswith(".__main__"):  # (those run the command)
        importlib.import_module(module.name)

import rich.console  # noqa: E402,F401
import rich.live  # noqa: E402,F401
import rich.progress  # noqa: E402,F401
import rich.table  # noqa: E402,F401
import rich.text  # noqa: E402,F401

user = pwd.getpwnam(sys.argv[1])
os.setgroups(os.getgrouplist(user.pw_name, user.pw_gid))
os.setgid(user.pw_gid)
os.setuid(user.pw_uid)
assert os.geteuid() == user.pw_uid and os.getegid() == user.pw_gid

if sys.argv[2] == "cli":
    from simjobs.cli import main

    sys.exit(main(sys.argv[3:]))
code, sys.argv = sys.argv[3], ["<as_user>", *sys.argv[4:]]  # the code sees its own args
exec(compile(code, "<as_user>", "exec"))
