import threading
import time
from datetime import datetime

from simjobs import JobId, JobIDGenerator


def test_ids_are_17_digit_timestamps():
    before = datetime.now().strftime("%Y%m%d%H%M%S%f")[:-3]
    job_id = JobIDGenerator().generate_id()
    assert isinstance(job_id, JobId)
    text = str(job_id)
    assert len(text) == 17 and text.isdigit()
    assert text >= before
    datetime.strptime(text[:14], "%Y%m%d%H%M%S")


def test_burst_of_10000_ids_is_unique_ordered_and_does_not_sleep():
    gen = JobIDGenerator()
    start = time.perf_counter()
    ids = [str(gen.generate_id()) for _ in range(10_000)]
    elapsed = time.perf_counter() - start
    assert len(set(ids)) == 10_000
    assert ids == sorted(ids)
    assert all(len(i) == 17 for i in ids)
    assert elapsed < 2.0  # exauq sleeps 1 ms per id: 10 s
    for text in ids[:: 997]:
        datetime.strptime(text[:14], "%Y%m%d%H%M%S")


def test_ids_unique_across_threads():
    gen = JobIDGenerator()
    out: list[str] = []
    lock = threading.Lock()

    def work():
        mine = [str(gen.generate_id()) for _ in range(2_000)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == len(set(out)) == 8_000


def test_advance_past_skips_ids_already_used():
    gen = JobIDGenerator()
    future = "29991231235959998"
    gen.advance_past(future)
    assert str(gen.generate_id()) == "29991231235959999"
    assert str(gen.generate_id()) == "30000101000000000"
