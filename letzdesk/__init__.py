"""letzdesk: a desktop order desk for Letzshop vendors."""

__version__ = "0.1.0"
