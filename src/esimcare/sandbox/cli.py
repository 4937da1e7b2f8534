"""Command line for the SM-DP+ EMULATOR and the PHONE SIMULATOR (both stand-ins, not real).

``esimcare smdp-emulator`` serves ES2+ (SGP.22 v2.2 5.3) from the built-in emulator on its
own port, optionally with mutual TLS, and sends HandleDownloadProgressInfo (5.3.5) to the
operator's receiver. ``esimcare phone install|delete|disable`` play the phone against the
emulator's ``/simulator/*`` endpoints; they never touch a real SM-DP+ or a real phone.
"""

from __future__ import annotations

import argparse
import logging
import ssl
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from esimcare.integrations.http import make_http_client
from esimcare.kit.ids import Eid

if TYPE_CHECKING:
    from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator

DEFAULT_EMULATOR_URL = "http://127.0.0.1:8000/smdp-emulator"
DEFAULT_INVENTORY = "consumer=20"
SIMULATOR_EID = Eid.from_body("89049032" + "0" * 21 + "1").value

Subparsers = argparse._SubParsersAction  # argparse exposes no public name for it


def add_smdp_commands(commands: Subparsers[argparse.ArgumentParser]) -> None:
    """Register ``smdp-emulator`` and ``phone`` on the ``esimcare`` command line."""
    _add_emulator(commands)
    phone = commands.add_parser(
        "phone", help="PHONE SIMULATOR: play a phone against the SM-DP+ emulator"
    )
    actions = phone.add_subparsers(metavar="ACTION")
    install = actions.add_parser(
        "install", help="simulated phone: download and install a profile from an activation code"
    )
    install.add_argument("activation_code", help="LPA:1$<smdp address>$<matching id>")
    install.add_argument("--eid", default=SIMULATOR_EID, help="the simulated phone's EID")
    install.add_argument("--confirmation-code", default=None)
    install.add_argument(
        "--fail", action="store_true", help="simulate a failed installation (point 4 Failed)"
    )
    install.set_defaults(handler=_phone_install)
    _emulator_url(install)
    for name, verb in (("delete", "deletes"), ("disable", "disables")):
        action = actions.add_parser(name, help=f"simulated phone: the user {verb} the profile")
        action.add_argument("iccid")
        action.set_defaults(handler=_phone_action, action=name)
        _emulator_url(action)


def _emulator_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--emulator-url",
        default=DEFAULT_EMULATOR_URL,
        help=f"the SM-DP+ emulator's base URL (default {DEFAULT_EMULATOR_URL})",
    )


def _add_emulator(commands: Subparsers[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "smdp-emulator", help="SM-DP+ EMULATOR: serve ES2+ for tests and demos (not a real one)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="state (./data)")
    parser.add_argument("--notify-url", default=None, help="the operator's ES2+ receiver base URL")
    parser.add_argument("--requester-id", default="smdp-emulator.esimcare.test")
    parser.add_argument(
        "--notify-key-file",
        type=Path,
        default=None,
        help="the secret that signs notifications (default <data-dir>/es2plus-emulator.key: "
        "share the data directory with the receiving esimcare demo, or copy the file)",
    )
    parser.add_argument("--smdp-address", default="smdp.esimcare.test")
    parser.add_argument(
        "--inventory",
        action="append",
        default=None,
        metavar="TYPE=COUNT",
        help=f"keep at least COUNT profiles of TYPE in stock (default {DEFAULT_INVENTORY})",
    )
    parser.add_argument("--deleted-point", type=int, default=102)
    parser.add_argument("--disabled-point", type=int, default=101)
    parser.add_argument("--tls-cert", type=Path, help="server certificate (PEM): serve HTTPS")
    parser.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    parser.add_argument("--tls-ca", type=Path, help="require client certificates from this CA")
    parser.set_defaults(handler=_smdp_emulator)


def parse_inventory(items: list[str]) -> dict[str, int]:
    """``["consumer=20", "iot=5"]`` -> ``{"consumer": 20, "iot": 5}``."""
    wanted: dict[str, int] = {}
    for item in items:
        profile_type, _, count = item.partition("=")
        if not profile_type or not count.isdigit():
            raise argparse.ArgumentTypeError(f"--inventory {item!r}: use TYPE=COUNT")
        wanted[profile_type] = int(count)
    return wanted


def _smdp_emulator(args: argparse.Namespace) -> int:
    import uvicorn

    from esimcare.integrations.smdp.notification_signature import key_path, load_or_create_key
    from esimcare.kit.clock import SystemClock
    from esimcare.sandbox.smdp_emulator.emulator import SmdpEmulator
    from esimcare.sandbox.smdp_emulator.notifications import NotificationSender
    from esimcare.sandbox.smdp_emulator.server import create_emulator_app
    from esimcare.sandbox.store import EmulatorStore

    if args.tls_ca and not (args.tls_cert and args.tls_key):
        raise SystemExit("--tls-ca needs --tls-cert and --tls-key")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    store = EmulatorStore(f"sqlite:///{args.data_dir.resolve() / 'smdp-emulator.db'}")
    store.create_tables()
    emulator = SmdpEmulator(store, SystemClock(), smdp_address=args.smdp_address)
    stock = _top_up(emulator, parse_inventory(args.inventory or [DEFAULT_INVENTORY]))
    notify = None
    if args.notify_url:
        notify = NotificationSender(
            args.notify_url,
            args.requester_id,
            make_http_client(),
            deleted_point=args.deleted_point,
            disabled_point=args.disabled_point,
            signing_key=load_or_create_key(args.notify_key_file or key_path(args.data_dir)),
        )
    _print_emulator_banner(args, stock)
    uvicorn.run(
        create_emulator_app(emulator, notify=notify),
        host=args.host,
        port=args.port,
        log_level="info",
        **_tls_options(args),
    )
    return 0


def _top_up(emulator: SmdpEmulator, wanted: dict[str, int]) -> dict[str, int]:
    stock: dict[str, int] = {}
    for profile_type, count in wanted.items():
        have = len(emulator.profiles(profile_type))
        if have < count:
            emulator.generate_inventory(profile_type, count - have)
        stock[profile_type] = max(have, count)
    return stock


def _tls_options(args: argparse.Namespace) -> dict[str, Any]:
    if not args.tls_cert:
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": str(args.tls_cert),
        "ssl_keyfile": str(args.tls_key) if args.tls_key else None,
    }
    if args.tls_ca:
        options |= {"ssl_ca_certs": str(args.tls_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return options


def _print_emulator_banner(args: argparse.Namespace, stock: dict[str, int]) -> None:
    scheme = "https" if args.tls_cert else "http"
    base = f"{scheme}://{args.host}:{args.port}"
    lines = [
        "",
        "esimcare SM-DP+ EMULATOR (a stand-in for tests and demos, not a real SM-DP+)",
        f"  ES2+ base URL:   {base}  (POST /gsma/rsp2/es2plus/downloadOrder, ...)",
        f"  mutual TLS:      {'required' if args.tls_ca else 'off'}",
        f"  notifications:   {args.notify_url or 'off (no --notify-url)'}",
        f"  phone simulator: esimcare phone install <activation-code> --emulator-url {base}",
        "  inventory:       " + ", ".join(f"{t}={n}" for t, n in sorted(stock.items())),
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


# --- the phone simulator ------------------------------------------------------------------


def _phone_install(args: argparse.Namespace) -> int:
    body: dict[str, object] = {"activationCode": args.activation_code, "eid": args.eid}
    if args.confirmation_code:
        body["confirmationCode"] = args.confirmation_code
    downloaded = _simulate(args.emulator_url, "download", body)
    if downloaded is None:
        return 1
    _report("downloaded", downloaded)
    installed = _simulate(
        args.emulator_url, "install", {"iccid": downloaded["iccid"], "success": not args.fail}
    )
    if installed is None:
        return 1
    _report("installation failed for" if args.fail else "installed", installed)
    return 0


def _phone_action(args: argparse.Namespace) -> int:
    done = _simulate(args.emulator_url, args.action, {"iccid": args.iccid})
    if done is None:
        return 1
    _report(f"{args.action}d", done)
    return 0


def _simulate(base_url: str, action: str, body: dict[str, object]) -> dict[str, Any] | None:
    """One call to the emulator's simulator endpoint; None (and a message) if refused."""
    url = f"{base_url.rstrip('/')}/simulator/{action}"
    logging.getLogger("httpx").setLevel(logging.WARNING)  # our own lines say what happened
    try:
        with make_http_client() as client:
            response = client.post(url, json=body)
    except httpx.TransportError as exc:
        _say(f"phone simulator: cannot reach the SM-DP+ emulator at {url} ({exc})")
        return None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code != 200:
        code, detail = data.get("code", response.status_code), data.get("detail", response.text)
        _say(f"phone simulator: the SM-DP+ emulator refused {action}: {code} {detail}")
        return None
    return dict(data)


def _report(what: str, result: dict[str, Any]) -> None:
    _say(f"phone simulator: {what} profile {result['iccid']} (SM-DP+ state {result['state']})")
    notes = result.get("notifications") or []
    if not notes:
        _say("  no notification sent (the emulator has no --notify-url)")
    for note in notes:
        outcome = "delivered" if note["delivered"] else f"NOT delivered: {note['detail']}"
        _say(f"  notified the operator: point {note['point']} {outcome}")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
