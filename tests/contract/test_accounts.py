"""AccountStore on every backend: users (typed, unique by username, updatable) and API keys."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from store.accounts import UserAccount


def test_users_are_added_read_and_listed_as_records(store):
    assert store.users() == [] and store.user(username="wang") is None
    wang = store.add_user("wang", "王芳", "hash-1", "dispatcher")
    li = store.add_user("li", "李明", "hash-2", "department", department_code="police")
    user = store.user(username="wang")
    assert isinstance(user, UserAccount)
    assert (
        user.id,
        user.username,
        user.display_name,
        user.password_hash,
        user.role,
        user.department_code,
        user.active,
    ) == (wang, "wang", "王芳", "hash-1", "dispatcher", None, True)
    assert user.created_at.tzinfo is not None
    assert store.user(user_id=li) == store.user(username="li")
    assert store.user(user_id=li).department_code == "police"
    assert store.user(user_id=li + 1000) is None
    assert [u.username for u in store.users()] == ["wang", "li"]


def test_a_username_is_taken_once(store):
    store.add_user("wang", "王芳", "hash-1", "dispatcher")
    with pytest.raises(sa.exc.IntegrityError):
        store.add_user("wang", "王二", "hash-2", "admin")
    assert [u.display_name for u in store.users()] == ["王芳"]


def test_update_user_changes_named_columns_of_one_user(store):
    store.add_user("wang", "王芳", "hash-1", "dispatcher")
    store.add_user("li", "李明", "hash-2", "department", department_code="police")
    assert store.update_user("wang", active=False, password_hash="hash-3") == 1
    assert store.update_user("nobody", active=False) == 0
    wang = store.user(username="wang")
    assert (wang.active, wang.password_hash, wang.display_name) == (False, "hash-3", "王芳")
    assert store.update_user("li", role="dispatcher", department_code=None) == 1
    li = store.user(username="li")
    assert (li.role, li.department_code, li.active) == ("dispatcher", None, True)
    with pytest.raises(sa.exc.CompileError):
        store.update_user("li", no_such_column=1)


def test_api_keys_are_stored_hashed_and_revocable(store):
    store.add_api_key("hotline", "ab" * 32, ["personal_data"])
    store.add_api_key("open311", "ef" * 32, ["write", "personal_data"])
    assert store.api_key_scopes("ab" * 32) == ("hotline", ["personal_data"])
    assert store.api_key_scopes("ef" * 32) == ("open311", ["personal_data", "write"])  # sorted
    assert store.api_key_scopes("cd" * 32) is None
    assert store.revoke_api_key("hotline") == 1
    assert store.api_key_scopes("ab" * 32) is None
    assert store.revoke_api_key("hotline") == 0  # already revoked
    assert store.revoke_api_key("nobody") == 0
    assert store.api_key_scopes("ef" * 32) == ("open311", ["personal_data", "write"])


def test_a_token_hash_is_stored_once(store):
    store.add_api_key("a", "ab" * 32, [])
    with pytest.raises(sa.exc.IntegrityError):
        store.add_api_key("b", "ab" * 32, ["write"])
    assert store.api_key_scopes("ab" * 32) == ("a", [])


def test_preferences_are_kept_per_user_and_replaced_by_name(store):
    wang = store.add_user("wang", "王芳", "hash-1", "dispatcher")
    li = store.add_user("li", "李明", "hash-2", "dispatcher")
    assert store.preferences(wang) == {}
    store.set_preference(wang, "coordsys", "wgs84")
    store.set_preference(li, "coordsys", "gcj02")
    store.set_preference(wang, "coordsys", "bd09")  # the same name again replaces, never adds
    store.set_preference(wang, "lang", "en")
    assert store.preferences(wang) == {"coordsys": "bd09", "lang": "en"}
    assert store.preferences(li) == {"coordsys": "gcj02"}
    with pytest.raises(sa.exc.IntegrityError):  # a preference of nobody is refused
        store.set_preference(li + wang + 1000, "coordsys", "wgs84")
    assert store.preferences(li + wang + 1000) == {}
