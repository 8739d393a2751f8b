"""Back-office roles and their permissions, created by ``flask --app run setup``.

* Bureau Admin (文化局): everything, every venue, users and roles — except reading the
  security trail, which needs a role that grants it (:data:`ADMIN_EXCLUDED`).
* Venue Admin (場館管理者): their venue's terms, courses, flows, phases, discounts,
  registrations, payments and refunds.
* Venue Clerk (場館承辦): their venue's registrations, payments and refunds; courses read-only;
  cannot change flows, fees or users.
* Supervisor (督導/稽核): read-only users, roles, permissions and the security trail.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

READ = ("can_list", "can_show")
WRITE = READ + ("can_add", "can_edit", "can_delete")
MENU = ("menu_access",)  # granted on a menu item's name, not on the view class

#: Every staff member may see and change their own account and password.
SELF_SERVICE = {
    "UserDBModelView": ("can_userinfo", "resetmypassword", "userinfoedit"),
    "ResetMyPasswordView": ("can_this_form_get", "can_this_form_post"),
    "UserInfoEditView": ("can_this_form_get", "can_this_form_post"),
}

#: view or menu name -> permissions, per role.
#: FAB names an action's permission after the action itself, without ``can_``.
ROLE_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "Venue Admin": {
        **SELF_SERVICE,
        "VenueView": READ + ("can_edit",), "TermView": WRITE,
        "CourseView": WRITE + ("export_codes",), "PhaseView": WRITE, "FlowTemplateView": WRITE,
        "FlowTemplatePhaseView": WRITE, "DiscountRuleView": WRITE,
        "Venues": MENU, "Venue list": MENU, "Term list": MENU, "Course list": MENU,
        "Phase list": MENU, "Flow templates": MENU, "Discount rules": MENU, "Registrations": MENU,
    },
    "Venue Clerk": {
        **SELF_SERVICE,
        "VenueView": READ, "TermView": READ, "CourseView": READ + ("export_codes",),
        "PhaseView": READ, "Venues": MENU, "Venue list": MENU, "Term list": MENU,
        "Course list": MENU, "Phase list": MENU, "Registrations": MENU,
    },
    "Supervisor": {
        **SELF_SERVICE,
        "UserDBModelView": READ + SELF_SERVICE["UserDBModelView"], "RoleModelView": READ,
        "PermissionModelView": ("can_list",), "ViewMenuModelView": ("can_list",),
        "PermissionViewModelView": ("can_list",), "StaffProfileView": READ,
        "Security": MENU, "List Users": MENU, "List Roles": MENU, "Base Permissions": MENU,
        "Views/Menus": MENU, "Permission on Views/Menus": MENU, "Staff venues": MENU,
    },
}

#: Extra grants modules add as they register views: role -> {view: perms}.
EXTRA_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {}


#: Views and menu items the bureau administrator's blanket role does not get (separation of
#: duties): reading the security trail needs a role that grants it, e.g. Supervisor.
ADMIN_EXCLUDED: set[str] = set()


def grant(role: str, view: str, perms: tuple[str, ...]) -> None:
    EXTRA_GRANTS.setdefault(role, {})[view] = perms


def withhold_from_admin(*names: str) -> None:
    """Keep these views or menu items out of the bureau administrator's blanket role."""
    ADMIN_EXCLUDED.update(names)


def sync_roles(sm) -> list[tuple[str, str, str]]:
    """Create the roles and give each exactly its grants (idempotent).

    Returns (and logs) the grants that name no existing permission: a typo there would
    otherwise silently leave a role without a menu or an action."""
    admin = sm.find_role(sm.auth_role_admin) or sm.add_role(sm.auth_role_admin)
    sm.find_role(sm.auth_role_public) or sm.add_role(sm.auth_role_public)
    for pv in sm.appbuilder.session.query(sm.permissionview_model).all():
        if pv.view_menu.name in ADMIN_EXCLUDED:
            if pv in admin.permissions:
                sm.del_permission_role(admin, pv)
        else:
            sm.add_permission_role(admin, pv)
    missing = []
    for role_name in set(ROLE_GRANTS) | set(EXTRA_GRANTS):
        role = sm.find_role(role_name) or sm.add_role(role_name)
        grants = {**ROLE_GRANTS.get(role_name, {}), **EXTRA_GRANTS.get(role_name, {})}
        wanted = []
        for view, perms in grants.items():
            for perm in perms:
                pv = sm.find_permission_view_menu(perm, view)
                if pv is None:
                    missing.append((role_name, view, perm))
                else:
                    wanted.append(pv)
        current = set(role.permissions)
        for pv in wanted:
            if pv not in current:
                sm.add_permission_role(role, pv)
        for pv in current - set(wanted):
            sm.del_permission_role(role, pv)
    for role_name, view, perm in missing:
        log.warning("role %s: no permission %s on %s", role_name, perm, view)
    return missing
