/*
 * How long one Argon2id hash takes on one thread: what a login costs a worker.
 * Usage: pwhash_time OPS MEM_BYTES RUNS   (tinyweb's defaults: 2 67108864)
 * Prints each run's milliseconds, then "median MS". Built and run by bench/app_bench.sh:
 *   cc -O2 -o pwhash_time bench/pwhash_time.c -lsodium
 * It calls crypto_pwhash as tinyweb's auth does through crypto_pwhash_str(_verify): the same
 * algorithm (Argon2id 1.3), passes and memory, one lane.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: pwhash_time OPS MEM_BYTES RUNS\n");
        return 2;
    }
    unsigned long long ops = strtoull(argv[1], NULL, 10);
    size_t mem = (size_t)strtoull(argv[2], NULL, 10);
    int runs = atoi(argv[3]);
    if (sodium_init() < 0 || runs < 1 || runs > 100)
        return 1;
    unsigned char key[32], salt[crypto_pwhash_SALTBYTES];
    randombytes_buf(salt, sizeof(salt));
    double ms[100];
    for (int i = 0; i < runs; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (crypto_pwhash(key, sizeof(key), "bench-password", 14, salt, ops, mem,
                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
            fprintf(stderr, "pwhash_time: crypto_pwhash failed (out of memory?)\n");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        ms[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        printf("run %d %.2f\n", i + 1, ms[i]);
    }
    qsort(ms, (size_t)runs, sizeof(ms[0]), cmp);
    printf("median %.2f\n", runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2);
    return 0;
}
