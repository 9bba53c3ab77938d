"""Adaptive cache (compiled): W-TinyLFU whose window size tunes itself.

Layers, each in its own module: the hash table (``_table``) stores items and
sizes; the popularity estimates are a count-min sketch (``frequency_sketch``);
the climber's yardstick is a shadow LRU of hashes (``hash_lru``); this module
is the eviction policy.
"""
import time as _time
from cpython.mem cimport PyMem_Realloc, PyMem_Free
from cpython.object cimport PyObject
from libc.math cimport floor, fabs
from libc.stdint cimport int32_t, int64_t, uint64_t
from fastcache._core._table cimport Table, find_live
from fastcache._core.frequency_sketch cimport FrequencySketch, spread, sketch_increment
from fastcache._core.hash_lru cimport HashLRU

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define fc_prefetch(p) __builtin_prefetch((const void *)(p), 1, 1)
    #else
    #define fc_prefetch(p) ((void)(p))
    #endif
    """
    void prefetch "fc_prefetch"(const void *p) noexcept

cdef tuple SEGMENT_NAMES = ("window", "probation", "protected")


cdef enum:
    MIN_SAMPLE = 1000           # accesses per climber period, at least...
    MAX_SAMPLE = 300000         # ...and at most: a large cache must adapt within a few million requests
cdef double INITIAL_WINDOW = 0.01   # Caffeine's starting point: almost pure TinyLFU
cdef double STEP = 0.0625           # the climber's step, as a share of maxsize
cdef double JUMP = 0.25             # the step when the shadow LRU is clearly ahead
cdef double LRU_MARGIN = 0.01       # "clearly": by more than one point of hit ratio
cdef double RESTART = 0.05          # a change of hit ratio this large restarts the search


cdef inline SegmentNode *node_at(Table t, Py_ssize_t ix) noexcept:
    return <SegmentNode *>(t.side + ix * sizeof(SegmentNode))


cdef inline uint64_t mixed_hash(Table t, Py_ssize_t ix) noexcept:
    return spread(<uint64_t>t.entries[ix].hash)


cdef Py_ssize_t four_fifths(Py_ssize_t n) noexcept:
    # floor(0.8 n) without overflowing near PY_SSIZE_T_MAX
    return (n // 5) * 4 + ((n % 5) * 4) // 5


cdef inline void touch(AdaptiveCache c, Py_ssize_t ix) noexcept:
    # A use: probation items move up to protected; window and protected items
    # are only marked (CLOCK: the mark buys a second round when the item
    # reaches the head), so most hits write to their own node and nothing else.
    # (An exact LRU window measured worse: 0.26 points lower mean hit ratio on
    # the reference traces, with four cells more than 2 points below LRU.)
    cdef SegmentNode *n = node_at(c, ix)
    if n.segment == PROBATION:
        c.unlink_node(ix)
        c.append_node(PROTECTED, ix)
        c.demote()
    else:
        n.referenced = 1


cdef inline bint counts_as_use(AdaptiveCache c, Py_ssize_t ix) noexcept:
    # A use is counted (sketch, mark) once per CLOCK round: an item already
    # marked since it last passed its segment's head gains nothing from another
    # mark, and counting a burst of uses once keeps bursts from passing for
    # popularity.  Measured on the 88 reference cells: mean hit ratio 52.35 %
    # against 52.17 % counting every use, worst cell against LRU -1.61 against
    # -1.94; and a hit on a marked item skips the sketch's cache miss.
    cdef SegmentNode *n = node_at(c, ix)
    return n.segment == PROBATION or not n.referenced


cdef inline void record(AdaptiveCache c, bint hit, uint64_t x) noexcept:
    # The climber's bookkeeping for one access.
    if not c.climbing or c._currsize < c.warm_size:
        return                          # not climbing, or still filling up: nothing to compare yet
    c.sample_count += 1
    c.sample_hits += hit
    if ((x >> 40) & c.shadow.sample_mask) == 0 and c.shadow.touch(x) == 1:
        c.shadow_hits += c.shadow.rate
    if c.sample_count >= c.sample_size:
        c.climb()


cdef inline void use(AdaptiveCache c, Py_ssize_t ix) noexcept:
    # A hit only records the entry number; the policy applies hits in batches
    # (drain), where the memory they touch (node, sketch block) is fetched for
    # the whole batch at once instead of one cache miss at a time.
    c.hit_buffer[c.buffered] = <int32_t>ix
    c.buffered += 1
    if c.buffered == HIT_BUFFER:
        c.drain()


cdef class AdaptiveCache(Table):
    """Scan- and frequency-resistant cache that tunes itself (W-TinyLFU).

    Same mapping API as the other caches (cachetools semantics; ``getsizeof``
    weights, statistics, ``on_evict``).  Which item ``popitem()`` removes is
    the policy's choice, as in every cache here: the least valuable one.
    ``ttl=`` (seconds, with an injectable ``timer=``) makes items expire by
    TTLCache's rules; ``set(key, value, ttl=...)`` gives one item its own TTL.

    How it chooses.  A new item enters a small LRU *window*.  When the window
    is full its oldest item competes with the *main* space's next victim, and
    the one a frequency sketch says was used more often (over the recent past;
    counts are halved periodically) stays: one-off keys of a scan cannot push
    out popular ones.  The main space is a segmented LRU: *probation*, then
    *protected* (80 %) after a second use.

    How it adapts.  A hill climber resizes the window: every sample period
    it compares the hit ratio with the previous period's, keeps moving the
    window while that helps and reverses when not.  A large window acts like
    LRU (recency-heavy workloads), a small one like LFU.  A shadow LRU of the
    same size replays the accesses; falling clearly behind it moves the window
    up in one large step, since that is what a recency-driven workload needs.
    """

    def __cinit__(self, *args, **kwargs):
        cdef int s
        self.side_size = sizeof(SegmentNode)
        for s in range(3):
            self.segments[s].head = self.segments[s].tail = -1
            self.segments[s].weight = 0
        self.sketch = FrequencySketch(16)
        self.shadow = HashLRU(1)

    def __init__(self, maxsize, getsizeof=None, *, ttl=None, timer=_time.monotonic, on_evict=None):
        self._init_from_params({"maxsize": maxsize, "getsizeof": getsizeof, "on_evict": on_evict,
                                "ttl": ttl, "timer": timer})

    def _init_from_params(self, params):
        cdef Py_ssize_t m
        self.init_table(params["maxsize"], params["getsizeof"], params["on_evict"])
        self.init_expiry(params.get("timer", _time.monotonic), params.get("ttl"))
        m = self._maxsize
        bounded = m < PY_SSIZE_T_MAX
        self.configure(m if bounded and not self.weighted and m <= (1 << 24) else 64)
        self.climbing = bounded and m > 1
        self.warm_size = m - m // 10
        self.direction = 1
        self.step = max(1.0, m * STEP)
        self.previous_rate = -1.0
        self.set_window(0 if m <= 1 else max(1, <Py_ssize_t>floor(m * INITIAL_WINDOW + 0.5)) if bounded else m // 100)

    cdef int configure(self, Py_ssize_t entries) except -1:
        """Size the sketch, the shadow and the sample period for about ``entries`` items."""
        self.sized_for = entries
        self.sketch.resize(entries)
        self.shadow.configure(entries)
        self.sample_size = min(<Py_ssize_t>MAX_SAMPLE, max(<Py_ssize_t>MIN_SAMPLE, 10 * entries))
        self.sample_count = self.sample_hits = self.shadow_hits = 0
        return 0

    # ------------------------------------------------------------ segments

    cdef void unlink_node(self, Py_ssize_t ix) noexcept:
        cdef SegmentNode *n = node_at(self, ix)
        cdef Segment *s = &self.segments[n.segment]
        if n.prev >= 0:
            node_at(self, n.prev).next = n.next
        else:
            s.head = n.next
        if n.next >= 0:
            node_at(self, n.next).prev = n.prev
        else:
            s.tail = n.prev
        s.weight -= n.size

    cdef void append_node(self, int segment, Py_ssize_t ix) noexcept:
        cdef SegmentNode *n = node_at(self, ix)
        cdef Segment *s = &self.segments[segment]
        n.segment = segment
        n.next = -1
        n.prev = s.tail
        if s.tail >= 0:
            node_at(self, s.tail).next = <int32_t>ix
        else:
            s.head = <int32_t>ix
        s.tail = <int32_t>ix
        s.weight += n.size

    cdef void demote(self) noexcept:
        """Move protected's oldest unreferenced items to probation while it is over its share."""
        cdef Py_ssize_t ix
        while self.segments[PROTECTED].weight > self.protected_max and self.segments[PROTECTED].head >= 0:
            ix = self.segments[PROTECTED].head
            self.unlink_node(ix)
            if node_at(self, ix).referenced:
                node_at(self, ix).referenced = 0        # used since it got here: another round
                self.append_node(PROTECTED, ix)
            else:
                self.append_node(PROBATION, ix)

    cdef void set_window(self, Py_ssize_t window) noexcept:
        cdef Py_ssize_t m = self._maxsize
        if window > m:
            window = m
        if window < 0:
            window = 0
        self.window_max = window
        self.protected_max = four_fifths(m - window)
        self.demote()

    # ------------------------------------------------------------ climber

    cdef void climb(self) noexcept:
        cdef double rate = <double>self.sample_hits / <double>self.sample_count
        cdef double lru_rate = <double>self.shadow_hits / <double>self.sample_count
        cdef double jump = self._maxsize * JUMP
        cdef double restart = self._maxsize * STEP
        if lru_rate > rate + LRU_MARGIN:
            # Recency beats us here: widen the window at once, LRU-like.
            self.direction = 1
            if self.step < jump:
                self.step = jump
        elif self.previous_rate >= 0:
            if rate < self.previous_rate:
                # Worse than last period: turn round, with half the step, so
                # the window settles instead of swinging on sampling noise.
                self.direction = -self.direction
                self.step = max(1.0, self.step * 0.5)
            if fabs(rate - self.previous_rate) > RESTART and self.step < restart:
                self.step = restart         # the workload changed: search again
        self.previous_rate = rate
        self.sample_count = self.sample_hits = self.shadow_hits = 0
        self.set_window(<Py_ssize_t>floor(self.window_max + self.direction * self.step + 0.5))
        self.step = max(1.0, self.step * 0.98)

    cdef void drain(self) noexcept:
        """Apply the buffered hits, in order: sketch, CLOCK mark or promotion, climber.

        Runs before anything reads the policy's state (eviction, removal,
        pickling, inspection), so decisions never see stale marks or counts.
        """
        cdef int i, n = self.buffered
        cdef uint64_t xs[HIT_BUFFER]
        cdef Py_ssize_t ix
        self.buffered = 0
        for i in range(n):              # start every memory access of the batch first
            ix = self.hit_buffer[i]
            xs[i] = mixed_hash(self, ix)
            prefetch(node_at(self, ix))
        for i in range(n):
            ix = self.hit_buffer[i]
            if counts_as_use(self, ix):
                sketch_increment(self.sketch, xs[i])
                touch(self, ix)
            record(self, True, xs[i])

    # --------------------------------------------------------- table hooks

    cdef int on_insert(self, Py_ssize_t ix) except -1:
        cdef uint64_t x = mixed_hash(self, ix)
        if self.used > self.sized_for:
            self.configure(2 * self.used)       # weighted or unbounded: sized by what it holds
        sketch_increment(self.sketch, x)
        node_at(self, ix).size = self.entries[ix].size
        node_at(self, ix).referenced = 0
        self.append_node(WINDOW, ix)
        record(self, False, x)
        return 0

    cdef int on_update(self, Py_ssize_t ix) except -1:
        cdef SegmentNode *n = node_at(self, ix)
        self.segments[n.segment].weight += self.entries[ix].size - n.size
        n.size = self.entries[ix].size
        if counts_as_use(self, ix):
            sketch_increment(self.sketch, mixed_hash(self, ix))
            touch(self, ix)
        if n.segment == PROTECTED:
            self.demote()                       # it may have grown
        return 0

    cdef int on_access(self, Py_ssize_t ix) except -1:
        use(self, ix)
        return 0

    cdef void on_remove(self, Py_ssize_t ix) noexcept:
        if self.buffered:
            self.drain()                # while every buffered entry still exists
        self.unlink_node(ix)

    cdef Py_ssize_t victim(self) except -2:
        cdef Segment *window = &self.segments[WINDOW]
        cdef Segment *probation = &self.segments[PROBATION]
        cdef Segment *protected = &self.segments[PROTECTED]
        cdef Py_ssize_t candidate, main_victim
        if self.buffered:
            self.drain()
        while window.head >= 0 and window.weight >= self.window_max:
            # The window is full: its oldest item leaves it, into the main
            # space if there is room, else against main's next victim.
            candidate = window.head
            if node_at(self, candidate).referenced:
                node_at(self, candidate).referenced = 0     # second chance in the window
                self.unlink_node(candidate)
                self.append_node(WINDOW, candidate)
                continue
            if (probation.weight + protected.weight + self.entries[candidate].size
                    <= self._maxsize - self.window_max):
                self.unlink_node(candidate)
                self.append_node(PROBATION, candidate)
                continue
            main_victim = probation.head if probation.head >= 0 else protected.head
            if main_victim < 0:
                return candidate
            if (self.sketch.frequency(mixed_hash(self, candidate))
                    > self.sketch.frequency(mixed_hash(self, main_victim))):
                self.unlink_node(candidate)
                self.append_node(PROBATION, candidate)
                return main_victim
            return candidate
        if probation.head >= 0:
            return probation.head
        if protected.head >= 0:
            return protected.head
        return window.head

    cdef void on_clear(self):
        cdef int s
        self.buffered = 0               # the entries are gone: their hits with them
        for s in range(3):
            self.segments[s].head = self.segments[s].tail = -1
            self.segments[s].weight = 0

    cdef object policy_state(self, dict positions):
        cdef list segments = []
        cdef Py_ssize_t ix
        cdef int s
        if self.buffered:
            self.drain()
        for s in range(3):
            order = []
            ix = self.segments[s].head
            while ix >= 0:
                order.append((positions[ix], node_at(self, ix).referenced))
                ix = node_at(self, ix).next
            segments.append(order)
        return {"segments": segments, "window_max": self.window_max, "sized_for": self.sized_for,
                "climber": (self.climbing, self.direction, self.step, self.previous_rate,
                            self.sample_count, self.sample_hits, self.shadow_hits),
                "sketch": self.sketch.state(), "shadow": self.shadow.state()}

    cdef int restore_policy(self, object state, list ixs) except -1:
        cdef int s
        cdef Py_ssize_t ix
        self.configure(state["sized_for"])
        self.sketch.set_state(state["sketch"])
        self.shadow.set_state(state["shadow"])
        (self.climbing, self.direction, self.step, self.previous_rate,
         self.sample_count, self.sample_hits, self.shadow_hits) = state["climber"]
        for s in range(3):
            for pos, referenced in state["segments"][s]:
                ix = ixs[pos]
                node_at(self, ix).size = self.entries[ix].size
                node_at(self, ix).referenced = referenced
                self.append_node(s, ix)
        self.set_window(state["window_max"])
        return 0

    # ------------------------------------------------------------ mapping API
    #
    # The table's (expiry included), but for the hit path: the use goes to
    # the hit buffer inline.

    def __getitem__(self, key):
        cdef Py_ssize_t ix = find_live(self, key)
        if ix >= 0:
            self.hits += 1
            use(self, ix)
            return <object>self.entries[ix].value
        self.misses += 1
        value = self.__missing__(key)
        ix = find_live(self, key)            # __missing__ may have stored it
        if ix >= 0:
            self.on_access(ix)
        return value

    def get(self, key, default=None):
        """Return the (live) value for key and count the use, else default."""
        cdef Py_ssize_t ix = find_live(self, key)
        if ix >= 0:
            self.hits += 1
            use(self, ix)
            return <object>self.entries[ix].value
        self.misses += 1
        return default

    # ---------------------------------------------------------- inspection

    @property
    def window_maxsize(self):
        """The window's current share of ``maxsize`` (the climber moves it)."""
        self.drain()
        return self.window_max

    def segment_sizes(self):
        """{"window": w, "probation": p, "protected": q}: the size held by each segment."""
        self.drain()
        return {SEGMENT_NAMES[s]: self.segments[s].weight for s in range(3)}

    def frequency(self, key):
        """The sketch's estimate of how often key was used lately (0..15)."""
        self.drain()
        return self.sketch.frequency(spread(<uint64_t>hash(key)))
