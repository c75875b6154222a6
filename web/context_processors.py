from projects import access


def user_role(request):
    """The signed-in user's role, for the navigation bar and for offering only allowed actions."""
    role = access.role_of(getattr(request, "user", None))
    return {
        "user_role": role,
        "user_role_label": role.label if role else "",
        "user_can_edit_projects": access.can_edit_projects(request.user) if role else False,
    }
