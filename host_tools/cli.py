"""The `tinyenroll` command: one subcommand per module, imported only when used."""
import argparse
import importlib
import sys

# subcommand -> module; each module has add_arguments(parser) and run(args) -> exit code
COMMANDS = {
    "train": "host_tools.learn.train",
    "fewshot": "host_tools.evaluate.fewshot",
    "virtual-board": "host_tools.board.virtual_board",
    "flash": "host_tools.board.flash",
    "stream": "host_tools.board.stream",
    "validate": "host_tools.evaluate.validate",
    "demo": "host_tools.evaluate.demo",
    "bench": "host_tools.evaluate.bench",
    "anomaly-eval": "host_tools.evaluate.anomaly_eval",
    "selflabel-eval": "host_tools.evaluate.selflabel_eval",
}


def _load(name):
    try:
        return importlib.import_module(COMMANDS[name])
    except ModuleNotFoundError as e:
        if e.name == COMMANDS[name]:
            return None
        raise


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="tinyenroll", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for name in COMMANDS:
        mod = _load(name) if name == wanted else None
        p = sub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0] if mod and mod.__doc__ else None)
        if mod is not None:
            mod.add_arguments(p)
    args = parser.parse_args(argv)
    mod = _load(args.command)
    if mod is None:
        parser.error("command %r is not part of this build" % args.command)
    return mod.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
