#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

/* Parses the leading decimal digits of s into *value; returns the rest, or NULL if none. */
static const char *parse_digits(const char *s, uint64_t *value)
{
    uint64_t v = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
    }
    if (p == s)
        return NULL;
    *value = v;
    return p;
}

struct unit {
    const char *suffix;
    uint64_t factor;
};

static int parse_scaled(const char *s, const struct unit *units, size_t n, uint64_t *out)
{
    uint64_t v;
    const char *rest = parse_digits(s, &v);
    if (!rest)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(rest, units[i].suffix) == 0) {
            if (units[i].factor && v > UINT64_MAX / units[i].factor)
                return -EINVAL;
            *out = v * units[i].factor;
            return 0;
        }
    }
    return -EINVAL;
}

int units_parse_duration_ms(const char *s, uint64_t *ms)
{
    static const struct unit units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), ms);
}

int units_parse_size(const char *s, uint64_t *bytes)
{
    static const struct unit units[] = {
        {"", 1},
        {"k", 1024},
        {"m", 1024 * 1024},
        {"g", 1024 * 1024 * 1024},
    };
    return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), bytes);
}
