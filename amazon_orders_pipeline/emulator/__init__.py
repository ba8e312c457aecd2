"""The local SP-API emulator: the default, credential-free source of orders."""

from amazon_orders_pipeline.emulator.app import Emulator

__all__ = ["Emulator"]
