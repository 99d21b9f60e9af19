/*
 * tinyweb: a small, fast HTTP/1.1 server for static files. See README.md.
 */
#include <stdio.h>

#include "config.h"
#include "server.h"

int main(int argc, char **argv)
{
    struct config cfg;
    int rc = config_parse(&cfg, argc, argv, stderr);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return server_run(&cfg);
}
