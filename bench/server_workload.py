"""What is measured: the data each server holds, and the requests of each operation.

Every operation has two equivalent forms: the wrk script and arguments that drive
it under load, and a Python request builder for the probe sent first (and for the
sequential measurement of very slow operations). Both walk the same ids.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server_seed import PATCH_OP, user_document, user_name

CREATE, GET, FILTER, PATCH = "create", "get", "filter", "patch"
ADD_SMALL, ADD_MID, ADD_BIG = "add_small", "add_mid", "add_big"
USER_OPS = (CREATE, GET, FILTER, PATCH)
ADD_OPS = (ADD_SMALL, ADD_MID, ADD_BIG)
# The order of the report, and of the runs: filter first, on exactly `users` users.
ORDER = (FILTER, GET, PATCH, CREATE, ADD_SMALL, ADD_MID, ADD_BIG)
# Requests sent one by one before measuring, until one is fast enough for wrk: the
# first may build a cache (scim2-server indexes userName on its first filter), and
# each of a server's workers opens its database connections on its first requests.
PROBES = 4


@dataclass(frozen=True)
class Layout:
    """The seed data, sized from the user count, and how many member adds a run makes.

    Users ``u[0:users]`` fill the filter tenant. ``small_groups`` groups of 10 hold
    disjoint slices ``u[10i:10i+10]``; ``mid_groups`` groups all hold ``u[0:mid_size]``;
    the big group holds every seeded user. Adds to the small and mid groups take users
    from ``u[pool_start:]``, outside those groups; adds to the big group take extra
    users created just before.

    All requests in flight add to the same group (see member_add.lua), moving to the
    next group of the size every ``slack`` (= connections) requests, so the three
    sizes meet the same contention. A group of 10 used gets one such block, ending
    with at most 10 + connections members; the mid groups grow by about 12% and the
    big one by about 6% over a run at the default sizes.
    """

    users: int = 100_000
    small_size: int = 10
    mid_groups: int = 5
    warmup_adds: int = 1000
    measured_adds: int = 5000
    slack: int = 32

    @property
    def small_groups(self) -> int:
        return max(1, min(2000, self.users // 50))

    @property
    def mid_size(self) -> int:
        return self.users // 10

    @property
    def big_size(self) -> int:
        return self.users

    @property
    def pool_size(self) -> int:
        """Users one size's member adds need: the probes, the warm-up, the measured run."""
        return PROBES + self.warmup_adds + self.slack + self.measured_adds + self.slack

    @property
    def pool_start(self) -> int:
        return max(self.small_groups * self.small_size, self.mid_size)

    def check(self) -> None:
        if self.small_groups * self.slack < self.pool_size + 2 * self.slack:
            raise ValueError(f"{self.users:,} users give too few groups of {self.small_size}")
        needed = self.pool_start + 2 * self.pool_size
        if needed > self.users:
            raise ValueError(
                f"{self.users:,} users are too few for {self.measured_adds:,} member adds a "
                f"run: at least {needed:,} are needed"
            )

    def size_of(self, op: str) -> int:
        return {ADD_SMALL: self.small_size, ADD_MID: self.mid_size, ADD_BIG: self.big_size}[op]

    def as_dict(self) -> dict[str, int]:
        return {
            "users": self.users,
            "small_groups": self.small_groups,
            "small_size": self.small_size,
            "mid_groups": self.mid_groups,
            "mid_size": self.mid_size,
            "big_size": self.big_size,
            "warmup_adds": self.warmup_adds,
            "measured_adds": self.measured_adds,
        }


def title(op: str, layout: Layout) -> str:
    """Return an operation's name as the report prints it."""
    if op in ADD_OPS:
        return f"add member, group of {layout.size_of(op):,}"
    return {
        CREATE: "create user",
        GET: "get user by id",
        FILTER: f"filter userName eq ({layout.users:,} users)",
        PATCH: "PATCH replace user",
    }[op]


@dataclass
class Dataset:
    """The ids a server gave the seed data, and the files the wrk scripts read."""

    folder: Path
    user_ids: list[str]
    small_groups: list[str] = field(default_factory=list)
    mid_groups: list[str] = field(default_factory=list)
    big_group: str = ""
    big_pool: list[str] = field(default_factory=list)

    def write(self, name: str, lines: Sequence[str]) -> Path:
        path = self.folder / name
        path.write_text("\n".join(lines) + "\n")
        return path

    def pool(self, op: str, layout: Layout) -> list[str]:
        if op == ADD_BIG:
            return self.big_pool
        start = layout.pool_start + (0 if op == ADD_SMALL else layout.pool_size)
        return self.user_ids[start : start + layout.pool_size]

    def groups(self, op: str) -> list[str]:
        return {ADD_SMALL: self.small_groups, ADD_MID: self.mid_groups, ADD_BIG: [self.big_group]}[
            op
        ]


def fake_dataset(folder: Path, layout: Layout) -> Dataset:
    """Ids shaped like real ones, for the ceiling, which stores nothing."""
    rng = random.Random(7)

    def uid() -> str:
        return f"{rng.getrandbits(128):032x}"

    users = [uid() for _ in range(max(layout.users, layout.pool_start + 2 * layout.pool_size))]
    return Dataset(
        folder,
        users,
        small_groups=[uid() for _ in range(layout.small_groups)],
        mid_groups=[uid() for _ in range(layout.mid_groups)],
        big_group=uid(),
        big_pool=[uid() for _ in range(layout.pool_size)],
    )


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any] | None = None

    def content(self) -> bytes | None:
        return None if self.body is None else json.dumps(self.body).encode()


class Operation:
    """One operation on one dataset: its wrk runs and its Python requests."""

    def __init__(self, op: str, data: Dataset, layout: Layout, base: str, run_tag: str) -> None:
        self.op = op
        self.data = data
        self.layout = layout
        self.base = base
        self.run_tag = run_tag
        self.rng = random.Random(op)
        self.seeded_ids = data.user_ids[: layout.users]

    def script(self) -> str:
        return "member_add.lua" if self.op in ADD_OPS else "scim.lua"

    def wrk_args(
        self, phase: str, token: str, threads: int, connections: int, *, wrap: bool
    ) -> dict[str, str]:
        """Return the script's arguments for ``phase`` ("warmup" or "measure")."""
        args = {"base": self.base, "token": token}
        if self.op == CREATE:
            args.update(op=CREATE, prefix=f"{self.run_tag}-{phase}")
        elif self.op in (GET, PATCH):
            args.update(op=self.op, ids=str(self.data.folder / "ids.txt"))
        elif self.op == FILTER:
            args.update(op=FILTER, names=str(self.data.folder / "names.txt"))
        else:
            pool = self.data.pool(self.op, self.layout)
            warm_end = PROBES + self.layout.warmup_adds + self.layout.slack
            part = pool[PROBES:warm_end] if phase == "warmup" else pool[warm_end:]
            quota = self.layout.warmup_adds if phase == "warmup" else self.layout.measured_adds
            block = max(1, connections // threads)
            # The measured run starts on groups the warm-up did not reach.
            offset = 0 if phase == "warmup" else warm_end // block + threads
            args.update(
                groups=str(self.data.write(f"{self.op}-groups.txt", self.data.groups(self.op))),
                pool=str(self.data.write(f"{self.op}-{phase}-pool.txt", part)),
                quota="0" if wrap else str(quota),
                threads=str(threads),
                block=str(block),
                offset=str(offset),
            )
        return args

    def request(self, index: int) -> Request:
        """Return request ``index`` of the sequential form; the first ``PROBES`` probe."""
        if self.op == CREATE:
            name = f"{self.run_tag}-seq-{index}@example.com"
            return Request("POST", f"{self.base}/Users", user_document(name))
        if self.op == GET:
            return Request("GET", f"{self.base}/Users/{self.rng.choice(self.seeded_ids)}")
        if self.op == FILTER:
            name = user_name(self.rng.randrange(self.layout.users))
            return Request("GET", f'{self.base}/Users?filter=userName eq "{name}"')
        if self.op == PATCH:
            operation = {"op": "replace", "path": "displayName", "value": f"Patched {index}"}
            body = {"schemas": [PATCH_OP], "Operations": [operation]}
            return Request("PATCH", f"{self.base}/Users/{self.rng.choice(self.seeded_ids)}", body)
        groups = self.data.groups(self.op)
        user = self.data.pool(self.op, self.layout)[index]
        add = {"op": "add", "path": "members", "value": [{"value": user}]}
        body = {"schemas": [PATCH_OP], "Operations": [add]}
        return Request("PATCH", f"{self.base}/Groups/{groups[index % len(groups)]}", body)
