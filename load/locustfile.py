"""The load test's traffic (locust), driven by load/run.py; see docs/BENCHMARKS.md.

`PortfolioUser` is the product's mix, by iteration: 60 % reads (half pages, half API calls) by all
four roles, 25 % sync reads following their `next_sync` cursors, 15 % writes — a PATCH of a shared
counter project with `If-Match` — by the two roles that may write (an executive's or a client
viewer's simulated user hands its writes to the account manager). A 412 is a correct answer to a
stale `If-Match`, counted as a conflict, followed by a re-read. Every successful PATCH adds one to
a counter's `investment`, so at the end `investment` minus its start must equal the successful
PATCHes: any shortfall is a lost update.

`FloorUser` asks the floor (load/floor.py) for the same project list, over and over.

Environment: LOAD_DATA (the JSON prepare_load wrote), LOAD_RATE_PER_USER (requests per second per
simulated user; 0 = back to back), LOAD_RESULTS (where to write the write counts at the end).
"""

import itertools
import json
import os
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

from locust import FastHttpUser, constant, constant_throughput, events, task

DATA = json.loads(Path(os.environ["LOAD_DATA"]).read_text()) if os.environ.get("LOAD_DATA") else {}
RATE = float(os.environ.get("LOAD_RATE_PER_USER", "0") or 0)
ROLES = itertools.cycle(["admin", "executive", "manager", "viewer"])
WRITERS = {"admin": "admin", "manager": "manager", "executive": "manager", "viewer": "manager"}

# Successful PATCHes per counter project, and conflicts, in this locust process.
writes_ok: Counter = Counter()
conflicts = Counter()


def _wait_time():
    return constant_throughput(RATE) if RATE > 0 else constant(0)


class PortfolioUser(FastHttpUser):
    wait_time = _wait_time()

    def on_start(self):
        self.role = next(ROLES)
        account = DATA["accounts"][self.role]
        self.api_headers = {"Authorization": f"Token {account['token']}"}
        writer = DATA["accounts"][WRITERS[self.role]]
        self.write_headers = {"Authorization": f"Token {writer['token']}", "Content-Type": "application/json"}
        # Signed in (prepare_load made the session), and what this role may see.
        self.page_headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in account["session_cookie"].items())}
        self.project_ids = account["projects"]
        self.relationship_ids = account["relationships"]
        self.cursors = {"projects": "0", "measurements": "0"}
        self.counters = {}  # counter id → (version, investment) as last seen

    # --- 60 %: reads, pages and API alike -----------------------------------------------------

    @task(60)
    def read(self):
        project = random.choice(self.project_ids)
        relationship = random.choice(self.relationship_ids)
        path, name, headers = random.choice(
            [
                ("/", "page: portfolio dashboard", self.page_headers),
                ("/projects/", "page: project list", self.page_headers),
                (f"/projects/{project}/", "page: project", self.page_headers),
                (
                    f"/relationships/{relationship}/dashboard/",
                    "page: relationship dashboard",
                    self.page_headers,
                ),
                ("/api/v1/projects/?page_size=50", "api: project list", self.api_headers),
                (f"/api/v1/projects/{project}/", "api: project", self.api_headers),
                ("/api/v1/relationships/?page_size=50", "api: relationship list", self.api_headers),
                ("/api/v1/scores/?page_size=50", "api: score list", self.api_headers),
            ]
        )
        # Not followed: a page that redirects to the sign-in form is a failure, not a success.
        with self.client.get(
            path, headers=headers, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {path}")

    # --- 25 %: sync reads with cursors ---------------------------------------------------------

    @task(25)
    def sync(self):
        resource = random.choice(list(self.cursors))
        response = self.client.get(
            f"/api/v1/{resource}/?sync={self.cursors[resource]}&page_size=100",
            headers=self.api_headers,
            name=f"sync: {resource}",
        )
        if response.status_code == 200:
            page = response.json()
            # Follow the cursor; at the end of a pass keep it (incremental from now), now and then
            # start a full pass again.
            if page["has_more"] or random.random() > 0.1:
                self.cursors[resource] = page["next_sync"]
            else:
                self.cursors[resource] = "0"

    # --- 15 %: writes with If-Match ------------------------------------------------------------

    @task(15)
    def write(self):
        counter = random.choice(DATA["counters"])
        if counter not in self.counters:
            self._reread(counter)
            return
        version, investment = self.counters[counter]
        with self.client.patch(
            f"/api/v1/projects/{counter}/",
            data=json.dumps({"investment": str(investment + 1)}),
            headers={**self.write_headers, "If-Match": f'"{version}"'},
            name="write: PATCH project (If-Match)",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                body = response.json()
                self.counters[counter] = (body["version"], Decimal(body["investment"]))
                writes_ok[counter] += 1
                response.success()
            elif response.status_code == 412:  # someone else wrote first: correct, not an error
                conflicts[counter] += 1
                response.success()
                self.counters.pop(counter, None)
            else:
                response.failure(f"unexpected {response.status_code}: {response.text[:200]}")

    def _reread(self, counter):
        response = self.client.get(
            f"/api/v1/projects/{counter}/", headers=self.write_headers, name="write: re-read counter"
        )
        if response.status_code == 200:
            body = response.json()
            self.counters[counter] = (body["version"], Decimal(body["investment"]))


class FloorUser(FastHttpUser):
    """The floor: the same project list from the smallest WSGI app (load/floor.py)."""

    wait_time = _wait_time()

    @task
    def project_list(self):
        self.client.get("/api/v1/projects/?page_size=50", name="floor: project list")


@events.quitting.add_listener
def _write_results(environment, **kwargs):
    path = os.environ.get("LOAD_RESULTS")
    if path:
        Path(path).write_text(json.dumps({"writes_ok": writes_ok, "conflicts": conflicts}))
