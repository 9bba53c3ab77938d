# The caches' clock (see _timer.pyx); fc_monotonic is time.monotonic's clock read in C.
cdef extern from *:
    """
    #if defined(__linux__)
    #include <time.h>
    #define FC_FAST_MONOTONIC 1
    static double fc_monotonic(void) {
        /* The clock and the arithmetic of CPython's time.monotonic() on Linux,
           so values from both compare exactly. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec) / 1e9;
    }
    /* The same clock at the kernel tick's resolution, read from the vDSO without
       touching the clock source: it lags CLOCK_MONOTONIC by less than one tick. */
    static double fc_coarse_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (double)((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec) / 1e9;
    }
    static double fc_coarse_resolution(void) {
        struct timespec ts;
        if (clock_getres(CLOCK_MONOTONIC_COARSE, &ts) != 0) return -1.0;
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    #else
    #define FC_FAST_MONOTONIC 0
    static double fc_monotonic(void) { return 0.0; }
    static double fc_coarse_now(void) { return -1.0; }
    static double fc_coarse_resolution(void) { return -1.0; }
    #endif
    """
    const int FC_FAST_MONOTONIC
    double fc_monotonic() nogil
    double fc_coarse_now() nogil
    double fc_coarse_resolution() nogil


cdef double check_ttl(object ttl) except? -1.0
cdef double as_time(object t) except? -1.0


cdef class Timer:
    cdef object _timer
    cdef int nesting
    cdef object frozen_obj
    cdef double frozen
    cdef bint fast_monotonic
    cdef bint coarse                  # the timer is coarse_monotonic: read in C, deadlines written early
    cdef readonly double slack        # how far the coarse clock may lag (one tick); 0 otherwise
    cdef public object clock          # a DatetimeClock for timedelta TTLs, else None
    cdef double number(self, object t) except? -1.0
    cdef double ttl_number(self, object ttl) except? -1.0
    cdef object time_of(self, double t)
    cdef double now(self) except? -1.0
