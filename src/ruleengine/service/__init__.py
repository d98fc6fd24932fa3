"""The decision service: the engine over HTTP (Starlette on uvicorn), the way services call OPA.

Install with ``pip install 'ruleengine[server]'``; start with ``ruleengine serve``.
"""

from .app import ServerConfig, create_app
from .security import ConfigError
from .server import serve

__all__ = ["ConfigError", "ServerConfig", "create_app", "serve"]
