import re
from tests.test_admin_scoping import login, World, course_form, term_form, world  # noqa
def test_peek(app, world, db):
    c = login(app, "admin_a")
    r = c.post("/termview/edit/%d" % world.pks["a"]["termview"], data=term_form(world.rows["a"]["termview"]))
    h = r.get_data(as_text=True)
    i = h.find("该字段")
    print("CTX", h[i-2500:i])
