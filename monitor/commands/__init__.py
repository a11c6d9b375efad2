"""One module per CLI sub-command; each exposes ``register(subparsers)``.

``register`` adds its parser and sets ``func`` to a callable taking the parsed
namespace and returning the process exit code.
"""
