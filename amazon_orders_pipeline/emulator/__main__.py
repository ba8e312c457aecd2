"""Run the SP-API emulator from the command line: prints its base URL, then serves until interrupted."""

from __future__ import annotations

import argparse
import signal

from amazon_orders_pipeline.emulator.feeds import DEFAULT_FEED_PROCESSING_S
from amazon_orders_pipeline.emulator.server import Emulator
from amazon_orders_pipeline.emulator.state import DEFAULT_INDEX_LAG_S


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """Stop on SIGTERM as on Ctrl-C, whatever the parent handed down: a process started in the background, or by a
    process that has its own handlers, can inherit SIGTERM or SIGINT ignored or blocked."""
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    for signum in signals:
        signal.signal(signum, _interrupt)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m amazon_orders_pipeline.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--speed", type=float, default=1.0, help="multiplies every quota's rate")
    parser.add_argument("--seed", type=int, default=42, help="the synthetic seller's seed")
    parser.add_argument("--orders-per-day", type=int, default=400)
    parser.add_argument("--report-processing-s", type=float, default=60.0,
                        help="how long a report takes to process, in Amazon's seconds (divided by --speed)")
    parser.add_argument("--report-workers", type=int, default=0,
                        help="processes that make report documents side by side (0: a thread of the emulator)")
    parser.add_argument("--index-lag-s", type=float, default=DEFAULT_INDEX_LAG_S,
                        help="the most an order change takes to show in searches (each change's lag is drawn "
                             "from 0 to this; 0 turns the lag off)")
    parser.add_argument("--sqs-endpoint", default=None,
                        help="where ORDER_CHANGE notifications are sent (an SQS endpoint such as moto server's; "
                             "by default boto3's AWS endpoint for the queue's region)")
    parser.add_argument("--feed-processing-s", type=float, default=DEFAULT_FEED_PROCESSING_S,
                        help="how long a feed takes to process, in Amazon's seconds (divided by --speed)")
    parser.add_argument("--public-url", default=None,
                        help="where clients reach the emulator, for the document URLs it hands out (by default its "
                             "own bound address)")
    args = parser.parse_args(argv)
    emulator = Emulator(host=args.host, port=args.port, seed=args.seed, speed=args.speed,
                        orders_per_day=args.orders_per_day, report_processing_s=args.report_processing_s,
                        report_workers=args.report_workers, index_lag_s=args.index_lag_s,
                        sqs_endpoint=args.sqs_endpoint, feed_processing_s=args.feed_processing_s,
                        public_url=args.public_url)
    stop_on_signals()
    print(emulator.url, flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
