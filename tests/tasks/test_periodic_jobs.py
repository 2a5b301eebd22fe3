"""Hourly to quarterly jobs on real rows: partitions and archival, bonus points,
hit-and-run, statistics and ratio."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hub.tasks import bonus, hnr, partitions, ratio
from hub.tasks.schedule import utcnow
from tests.factories import make_user
from tests.tasks.data import context, make_peer, make_torrent

GIB = 1024**3


# -- partitions and archival ---------------------------------------------------------


async def test_partition_upkeep_creates_next_months_and_next_weeks_partitions(hub: Any) -> None:
    result = await partitions.ensure_partitions(
        context(hub, partitions_ahead_months=3, partitions_ahead_days=9))
    assert result is not None
    in_three_months = partitions.month_start(utcnow(), -3)
    in_nine_days = utcnow() + timedelta(days=9)
    names = [
        f"announces_p{in_three_months:%Y_%m}",
        f"audit_logs_p{in_three_months:%Y_%m}",
        f"peer_history_p{in_nine_days:%Y_%m_%d}",
    ]
    for name in names:
        assert await hub.pool.fetchval("SELECT to_regclass($1) IS NOT NULL", name), name


async def _announce(hub: Any, user_id: Any, torrent_id: int, at: datetime, *,
                    up: int = 0, down: int = 0, event: str | None = None) -> None:
    await hub.pool.execute(
        """INSERT INTO announces (user_id, torrent_id, peer_id, event, uploaded_delta,
                                  downloaded_delta, ip, port, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, '127.0.0.1', 51413, $7)""",
        user_id, torrent_id, b"-TR3000-" + uuid.uuid4().bytes[:12], event, up, down, at,
    )


async def test_old_announces_are_summarised_per_month_then_their_partitions_dropped(
    hub: Any,
) -> None:
    user = await make_user(hub)
    torrent = await make_torrent(hub)
    await hub.pool.execute(
        """CREATE TABLE IF NOT EXISTS announces_p2001_01 PARTITION OF announces
           FOR VALUES FROM ('2001-01-01 00:00:00+00') TO ('2001-02-01 00:00:00+00')""")
    jan = datetime(2001, 1, 10, 12, tzinfo=UTC)
    await _announce(hub, user.id, torrent, jan, event="started")
    await _announce(hub, user.id, torrent, jan + timedelta(hours=1), up=100, down=40)
    await _announce(hub, user.id, torrent, jan + timedelta(hours=2), up=200, event="completed")
    # A month with no partition of its own sits in the DEFAULT partition.
    await _announce(hub, user.id, torrent, datetime(2002, 3, 5, tzinfo=UTC), down=7)
    await _announce(hub, user.id, torrent, utcnow(), up=1)

    result = await partitions.archive_announces(context(hub, announces_keep_months=3))

    assert result is not None and "announces_p2001_01" in result["partitions_dropped"]
    assert await hub.pool.fetchval("SELECT to_regclass('announces_p2001_01')") is None
    summary = {r["month"]: r for r in await hub.pool.fetch(
        "SELECT * FROM announces_monthly WHERE user_id = $1 AND torrent_id = $2",
        user.id, torrent)}
    assert summary[date(2001, 1, 1)]["announces"] == 3
    assert summary[date(2001, 1, 1)]["completed"] == 1
    assert summary[date(2001, 1, 1)]["uploaded"] == 300
    assert summary[date(2001, 1, 1)]["downloaded"] == 40
    assert summary[date(2002, 3, 1)]["downloaded"] == 7
    left = await hub.pool.fetch(
        "SELECT created_at FROM announces WHERE user_id = $1 AND torrent_id = $2",
        user.id, torrent)
    assert len(left) == 1 and left[0]["created_at"] > utcnow() - timedelta(minutes=5)


async def test_old_peer_history_is_aggregated_per_day_and_recent_detail_kept(hub: Any) -> None:
    user = await make_user(hub)
    torrent = await make_torrent(hub)
    day = (utcnow() - timedelta(days=60)).replace(hour=6, minute=0, second=0, microsecond=0)
    for hour, seeders, up in ((0, 2, 100), (6, 4, 300)):
        await hub.pool.execute(
            """INSERT INTO peer_history (time, torrent_id, user_id, seeders, leechers, uploaded)
               VALUES ($1, $2, $3, $4, 1, $5)""",
            day + timedelta(hours=hour), torrent, user.id, seeders, up)
    await hub.pool.execute(
        """INSERT INTO peer_history (time, torrent_id, user_id, seeders, leechers)
           VALUES (now(), $1, $2, 9, 0)""", torrent, user.id)

    await partitions.aggregate_peer_history(context(hub, peer_history_keep_days=30))

    daily = await hub.pool.fetchrow(
        "SELECT * FROM peer_history_daily WHERE torrent_id = $1 AND user_id = $2",
        torrent, user.id)
    assert daily["day"] == day.date()
    assert daily["samples"] == 2
    assert daily["seeders_avg"] == Decimal("3.00") and daily["seeders_max"] == 4
    assert daily["uploaded"] == 400
    detail = await hub.pool.fetch(
        "SELECT seeders FROM peer_history WHERE torrent_id = $1", torrent)
    assert [r["seeders"] for r in detail] == [9]


async def test_quarterly_audit_archival_copies_old_rows_before_they_leave(hub: Any) -> None:
    user = await make_user(hub)
    old_at = utcnow() - timedelta(days=800)
    await hub.pool.execute(
        """INSERT INTO audit_logs (user_id, action, target_type, target_id, details, created_at)
           VALUES ($1, 'test_old_action', 'user', $2, $3, $4)""",
        user.id, str(user.id), {"why": "testing"}, old_at)
    await hub.pool.execute(
        """INSERT INTO audit_logs (user_id, action, target_type, target_id)
           VALUES ($1, 'test_new_action', 'user', $2)""", user.id, str(user.id))

    await partitions.archive_audit_logs(context(hub, audit_keep_months=12))

    hot = [r["action"] for r in await hub.pool.fetch(
        "SELECT action FROM audit_logs WHERE user_id = $1", user.id)]
    assert hot == ["test_new_action"]
    archived = await hub.pool.fetchrow(
        "SELECT * FROM audit_logs_archive WHERE user_id = $1", user.id)
    assert archived["action"] == "test_old_action"
    assert archived["details"] == {"why": "testing"}


# -- bonus points ----------------------------------------------------------------------


async def test_hourly_bonus_pays_active_seeders_by_rule_once_per_period(hub: Any) -> None:
    seeder = await make_user(hub)
    leecher = await make_user(hub)
    big = await make_torrent(hub, size=20 * GIB)
    pending = await make_torrent(hub, status="pending")
    await make_peer(hub, seeder.id, big, seeder=True)
    await make_peer(hub, seeder.id, pending, seeder=True)
    await make_peer(hub, leecher.id, big, seeder=False)
    await hub.pool.execute(
        """INSERT INTO torrent_history (user_id, torrent_id, seed_time_seconds, is_seeder)
           VALUES ($1, $2, $3, true)""", seeder.id, big, 31 * 86400)
    period = datetime(2001, 1, 1, 5, tzinfo=UTC) + timedelta(hours=uuid.uuid4().int % 10000)
    ctx = context(hub, period_start=period)

    first = await bonus.earn_seeding_bonus(ctx)
    again = await bonus.earn_seeding_bonus(ctx)

    assert first is not None and "already_paid" not in first
    assert again == {"already_paid": period.isoformat()}
    ledger = await hub.pool.fetch(
        """SELECT r.slug, b.amount, b.balance_after, b.reference
             FROM bonus_transactions b JOIN bonus_rules r ON r.id = b.bonus_rule_id
            WHERE b.user_id = $1 AND b.reference ->> 'period' = $2
            ORDER BY r.priority""", seeder.id, period.isoformat())
    # base 1.00 + long-term 0.50 + large 0.50 + few seeders 1.00, for the one approved torrent
    assert {r["slug"]: r["amount"] for r in ledger} == {
        "seeding_base": Decimal("1.00"), "seeding_long_term": Decimal("0.50"),
        "seeding_large": Decimal("0.50"), "seeding_low_seeders": Decimal("1.00"),
    }
    assert all(r["reference"]["torrents"] == 1 for r in ledger)
    balance = await hub.pool.fetchval(
        "SELECT seedbonus FROM user_statistics WHERE user_id = $1", seeder.id)
    everything = await hub.pool.fetchval(
        "SELECT sum(amount) FROM bonus_transactions WHERE user_id = $1", seeder.id)
    assert balance == everything
    assert max(r["balance_after"] for r in ledger) <= balance
    assert await hub.pool.fetchval(
        "SELECT count(*) FROM bonus_transactions WHERE user_id = $1", leecher.id) == 0


# -- hit and run -----------------------------------------------------------------------


async def _history(hub: Any, user_id: Any, torrent_id: int, *, completed_days: float,
                   seed_hours: float, seeding: bool = False) -> None:
    await hub.pool.execute(
        """INSERT INTO torrent_history (user_id, torrent_id, downloaded, seed_time_seconds,
                                        is_active, is_seeder, completed_at)
           VALUES ($1, $2, 1000, $3, $4, $4, now() - make_interval(secs => $5))""",
        user_id, torrent_id, int(seed_hours * 3600), seeding, completed_days * 86400)


async def test_a_completed_download_not_seeded_long_enough_earns_one_warning(hub: Any) -> None:
    runner = await make_user(hub)
    vip = await make_user(hub, "vip")
    good = await make_user(hub)
    fresh = await make_user(hub)
    seeding = await make_user(hub)
    torrent = await make_torrent(hub, name="Hit and run test")
    await _history(hub, runner.id, torrent, completed_days=20, seed_hours=1)
    await _history(hub, vip.id, torrent, completed_days=20, seed_hours=0)
    await _history(hub, good.id, torrent, completed_days=20, seed_hours=100)
    await _history(hub, fresh.id, torrent, completed_days=3, seed_hours=0)
    await _history(hub, seeding.id, torrent, completed_days=20, seed_hours=5, seeding=True)
    ctx = context(hub, hnr_days=14, hnr_min_seed_hours=72)

    await hnr.check_hit_and_runs(ctx)
    await hnr.check_hit_and_runs(ctx)

    flagged = dict(await hub.pool.fetch(
        "SELECT user_id, is_hit_and_run FROM torrent_history WHERE torrent_id = $1", torrent))
    assert flagged == {runner.id: True, vip.id: False, good.id: False, fresh.id: False,
                       seeding.id: False}
    warnings = await hub.pool.fetch("SELECT * FROM warnings WHERE user_id = $1", runner.id)
    assert len(warnings) == 1
    assert "Hit and run test" in warnings[0]["reason"] and warnings[0]["expires_at"] is not None
    notes = await hub.pool.fetch(
        "SELECT kind, payload FROM notifications WHERE user_id = $1", runner.id)
    assert [n["kind"] for n in notes] == ["hit_and_run"]
    assert notes[0]["payload"]["torrent_id"] == torrent
    assert await hub.pool.fetchval(
        """SELECT count(*) FROM audit_logs WHERE action = 'user.hit_and_run' AND target_id = $1""",
        str(runner.id)) == 1


# -- statistics and ratio --------------------------------------------------------------


async def _stats(hub: Any, user_id: Any, *, up: int, down: int) -> None:
    await hub.pool.execute(
        """INSERT INTO user_statistics (user_id, uploaded, downloaded) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE SET uploaded = $2, downloaded = $3""",
        user_id, up, down)


async def _group(hub: Any, user_id: Any) -> str:
    return str(await hub.pool.fetchval(
        "SELECT g.slug FROM users u JOIN user_groups g ON g.id = u.group_id WHERE u.id = $1",
        user_id))


async def test_members_below_their_minimum_ratio_become_leeches_and_recover(hub: Any) -> None:
    poor = await make_user(hub)
    newcomer = await make_user(hub)
    power = await make_user(hub, "power_user")
    await _stats(hub, poor.id, up=1 * GIB, down=10 * GIB)       # 0.1 < 0.4
    await _stats(hub, newcomer.id, up=0, down=1 * GIB)          # under the grace download
    await _stats(hub, power.id, up=45 * GIB, down=100 * GIB)    # 0.45 < 0.5, >= 0.4
    sinking = await make_user(hub, "elite")
    await _stats(hub, sinking.id, up=20 * GIB, down=100 * GIB)  # 0.2 < 0.4
    ctx = context(hub, ratio_grace_bytes=5 * GIB)

    await ratio.enforce_ratio(ctx)

    assert await _group(hub, poor.id) == "leech"
    assert await _group(hub, newcomer.id) == "member"
    assert await _group(hub, power.id) == "member"
    assert await _group(hub, sinking.id) == "leech"
    audit = await hub.pool.fetchrow(
        "SELECT * FROM audit_logs WHERE action = 'user.ratio_demotion' AND target_id = $1",
        str(poor.id))
    assert audit["details"]["from_group"] == "member" and audit["details"]["ratio"] == "0.100"
    assert await hub.pool.fetchval(
        "SELECT kind FROM notifications WHERE user_id = $1", poor.id) == "ratio_demoted"

    await _stats(hub, poor.id, up=5 * GIB, down=10 * GIB)       # 0.5 >= member's 0.4
    await ratio.enforce_ratio(ctx)

    assert await _group(hub, poor.id) == "member"
    assert await hub.pool.fetchval(
        "SELECT count(*) FROM audit_logs WHERE action = 'user.ratio_restored' AND target_id = $1",
        str(poor.id)) == 1


async def test_a_leech_placed_by_staff_is_not_restored_automatically(hub: Any) -> None:
    from hub import db
    from hub.moderation import audit

    punished = await make_user(hub, "leech")
    await _stats(hub, punished.id, up=10 * GIB, down=1 * GIB)
    async with db.transaction(hub.pool) as conn:
        await audit.record(conn, None, "user.group_change", "user", punished.id,
                           {"to": "leech"})
    await ratio.enforce_ratio(context(hub))
    assert await _group(hub, punished.id) == "leech"


async def test_staff_are_never_demoted_for_ratio(hub: Any) -> None:
    from tests.factories import make_moderator

    mod = await make_moderator(hub)
    await _stats(hub, mod.id, up=0, down=50 * GIB)
    await ratio.enforce_ratio(context(hub))
    assert await _group(hub, mod.id) == "moderator"


async def test_upload_and_snatch_counters_are_recounted_from_their_tables(hub: Any) -> None:
    user = await make_user(hub)
    await make_torrent(hub, uploader_id=user.id)
    await make_torrent(hub, uploader_id=user.id)
    await make_torrent(hub, uploader_id=user.id, status="pending")
    snatched = await make_torrent(hub)
    await hub.pool.execute(
        "INSERT INTO snatches (user_id, torrent_id) VALUES ($1, $2)", user.id, snatched)
    await hub.pool.execute(
        """INSERT INTO user_statistics (user_id, torrents_uploaded, torrents_snatched)
           VALUES ($1, 0, 7)
           ON CONFLICT (user_id) DO UPDATE SET torrents_uploaded = 0, torrents_snatched = 7""",
        user.id)

    await ratio.aggregate_user_statistics(context(hub))

    row = await hub.pool.fetchrow(
        "SELECT torrents_uploaded, torrents_snatched FROM user_statistics WHERE user_id = $1",
        user.id)
    assert (row["torrents_uploaded"], row["torrents_snatched"]) == (2, 1)


async def test_members_climb_the_class_ladder_when_they_meet_every_threshold(hub: Any) -> None:
    async def aged(group: str, days: int, up_gib: int, down_gib: int, uploads: int) -> Any:
        user = await make_user(hub, group)
        await hub.pool.execute(
            "UPDATE users SET created_at = now() - make_interval(days => $2) WHERE id = $1",
            user.id, days)
        await _stats(hub, user.id, up=up_gib * GIB, down=down_gib * GIB)
        await hub.pool.execute(
            "UPDATE user_statistics SET torrents_uploaded = $2 WHERE user_id = $1",
            user.id, uploads)
        return user

    power = await aged("member", 30, 30, 10, 0)        # 30 GiB, ratio 3, 30 days
    elite = await aged("member", 40, 200, 100, 12)     # 200 GiB, ratio 2, 12 uploads
    too_new = await aged("member", 3, 30, 10, 0)       # not 14 days old yet
    uploader = await aged("uploader", 400, 900, 10, 80)  # a hand-given class stays

    result = await ratio.promote_classes(context(hub))

    assert await _group(hub, power.id) == "power_user"
    assert await _group(hub, elite.id) == "elite"
    assert await _group(hub, too_new.id) == "member"
    assert await _group(hub, uploader.id) == "uploader"
    assert result is not None and result["promoted"] >= 2
    audit = await hub.pool.fetchrow(
        "SELECT details FROM audit_logs WHERE action = 'user.class_promotion' AND target_id = $1",
        str(elite.id))
    assert audit["details"]["from_group"] == "member" and audit["details"]["to_group"] == "elite"
    assert await hub.pool.fetchval(
        "SELECT kind FROM notifications WHERE user_id = $1", power.id) == "class_promoted"

    await ratio.promote_classes(context(hub))  # nothing more to do for them
    assert await hub.pool.fetchval(
        "SELECT count(*) FROM audit_logs WHERE action = 'user.class_promotion' AND target_id = $1",
        str(power.id)) == 1
