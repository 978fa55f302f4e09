"""letterhead: a language server and checker for Jekyll sites of film reviews written as letters."""

__version__ = "0.1.0"
