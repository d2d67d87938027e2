"""Stub Workbench: inspect, edit, preview and live-boot UEFI Linux boot stubs."""

__version__ = "0.1.0"
