"""The HTTP API: a thin FastAPI layer over the services (parse, call, render).

`create_app()` builds the application; `uvicorn --factory ssj.api.app:create_app` serves it.
"""

from ssj.api.app import create_app

__all__ = ["create_app"]
