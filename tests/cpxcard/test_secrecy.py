"""No code on a command line (where `ps` shows it to every user of the computer) nor in the agent's
state file: codes are typed into the agent, and the file holds counts."""

import os
import threading
import time

from .conftest import SOFTHSM, challenge_from, helpdesk_response, start_agent, state

PIN, NEW_PIN, OTHER_PIN, PUK = "7316", "5829", "6047", "40917263"


def _tree(root: int) -> set[int]:
    """The process and its descendants (the agent could run a helper such as pkcs11-tool)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, grown = {root}, True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        grown, tree = bool(more), tree | more
    return tree


def _command_lines(root: int) -> list[str]:
    lines = []
    for pid in _tree(root):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                lines.append(handle.read().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return lines


def _watched(store, args, feed):
    """Run the agent while another thread reads the command lines of its processes, over and over."""
    process = start_agent(store, *args)
    seen, done = [], threading.Event()

    def watch():
        while not done.is_set():
            seen.extend(_command_lines(process.pid))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        out, err = feed(process)
    finally:
        done.set()
        watcher.join()
    return process.returncode, out, err, seen


def test_no_code_in_any_command_line_or_in_the_state_file(make_card, agent, store, helpdesk_key):
    card = make_card(pin=PIN, puk=PUK)
    runs = [
        (["change-pin"], [PIN, NEW_PIN, NEW_PIN]),
        (["sign", "--key", "sign", "x"], [OTHER_PIN]),  # a wrong PIN: the state file is written
        (["unblock"], ["11112222", OTHER_PIN, OTHER_PIN]),
        (["unblock"], [PUK, OTHER_PIN, OTHER_PIN]),
    ]
    seen = []
    for args, codes in runs:
        code, _out, err, lines = _watched(
            store, args, lambda p, codes=codes: p.communicate("".join(f"{c}\n" for c in codes), timeout=60)
        )
        assert code in (0, 2), err
        seen += lines

    def helpdesk(process):
        challenge = challenge_from(
            process.stdout.readline() + process.stdout.readline() + process.stdout.readline()
        )
        response = helpdesk_response(helpdesk_key, card.number, challenge, PUK)
        responses.append(response)
        return process.communicate(f"{response}\n{NEW_PIN}\n{NEW_PIN}\n", timeout=60)

    responses = []
    code, _out, err, lines = _watched(store, ["helpdesk"], helpdesk)
    assert code == 0, err
    seen += lines
    assert any("cpxcard" in line and "--module" in line and SOFTHSM in line for line in seen)
    for secret in [
        PIN,
        NEW_PIN,
        OTHER_PIN,
        PUK,
        "11112222",
        *responses,
        *(r.replace(" ", "") for r in responses),
    ]:
        assert not [line for line in seen if secret in line], secret
    # The state file: counts by token serial, nothing else.
    raw = store.state_file.read_text()
    entries = state(store)["cards"]
    assert set(state(store)) == {"v", "cards"} and len(entries) == 1
    assert all(set(entry) == {"pin_failures", "puk_failures"} for entry in entries.values())
    assert all(isinstance(v, int) for entry in entries.values() for v in entry.values())
    for secret in [PUK, "11112222"]:
        assert secret not in raw


def test_codes_are_not_accepted_as_options(make_card, agent):
    make_card(pin=PIN)
    for args in (["sign", "--pin", PIN, "x"], ["unblock", "--puk", PUK], ["change-pin", PIN]):
        result = agent(*args, codes=[PIN, NEW_PIN, NEW_PIN])
        assert result.returncode == 1, args
    assert "PIN : 3 essais restants" in agent("show").stdout
