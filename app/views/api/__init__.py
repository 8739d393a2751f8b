"""The public JSON API (open data), built on Flask-AppBuilder's BaseApi."""


def register_api(appbuilder) -> None:
    from .public import PublicApi

    appbuilder.add_api(PublicApi)
