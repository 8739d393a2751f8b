"""The back office's home page, at /admin (the public site owns /)."""
from flask_appbuilder import IndexView


class BackOfficeIndexView(IndexView):
    route_base = "/admin"
    index_template = "admin/index.html"
