"""Back-office roles and their permissions, created by ``flask --app run setup``.

* Bureau Admin (文化局): everything, every venue, users and roles.
* Venue Admin (場館管理者): their venue's terms, courses, flows, phases, discounts,
  registrations, payments and refunds.
* Venue Clerk (場館承辦): their venue's registrations, payments and refunds; courses read-only;
  cannot change flows, fees or users.
* Supervisor (督導/稽核): read-only users, roles, permissions and the security trail.
"""
from __future__ import annotations

READ = ("can_list", "can_show", "menu_access")
WRITE = READ + ("can_add", "can_edit", "can_delete")

#: view name -> permissions, per role.  ``*`` as permission = every permission of that view.
ROLE_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "Venue Admin": {
        "VenueView": ("can_list", "can_show", "can_edit", "menu_access"),
        "TermView": WRITE, "CourseView": WRITE + ("can_export_codes",), "PhaseView": WRITE,
        "FlowTemplateView": WRITE, "FlowTemplatePhaseView": WRITE, "DiscountRuleView": WRITE,
        "Venues": ("menu_access",), "Registrations": ("menu_access",),
    },
    "Venue Clerk": {
        "VenueView": READ, "TermView": READ, "CourseView": READ + ("can_export_codes",),
        "PhaseView": READ, "Venues": ("menu_access",), "Registrations": ("menu_access",),
    },
    "Supervisor": {
        "UserDBModelView": READ, "RoleModelView": READ, "PermissionModelView": READ,
        "ViewMenuModelView": READ, "PermissionViewModelView": READ,
        "Security": ("menu_access",), "List Users": ("menu_access",),
        "List Roles": ("menu_access",), "StaffProfileView": READ,
    },
}

#: Extra grants modules add as they register views: role -> {view: perms}.
EXTRA_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {}


def grant(role: str, view: str, perms: tuple[str, ...]) -> None:
    EXTRA_GRANTS.setdefault(role, {})[view] = perms


def sync_roles(sm) -> None:
    """Create the roles and give each exactly its grants (idempotent)."""
    admin = sm.find_role(sm.auth_role_admin) or sm.add_role(sm.auth_role_admin)
    sm.find_role(sm.auth_role_public) or sm.add_role(sm.auth_role_public)
    for pv in sm.appbuilder.session.query(sm.permissionview_model).all():
        sm.add_permission_role(admin, pv)
    for role_name in set(ROLE_GRANTS) | set(EXTRA_GRANTS):
        role = sm.find_role(role_name) or sm.add_role(role_name)
        grants = {**ROLE_GRANTS.get(role_name, {}), **EXTRA_GRANTS.get(role_name, {})}
        wanted = []
        for view, perms in grants.items():
            for perm in perms:
                pv = sm.find_permission_view_menu(perm, view)
                if pv is not None:
                    wanted.append(pv)
        current = set(role.permissions)
        for pv in wanted:
            if pv not in current:
                sm.add_permission_role(role, pv)
        for pv in current - set(wanted):
            sm.del_permission_role(role, pv)
