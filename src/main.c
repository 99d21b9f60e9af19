/*
 * tinyweb: a small, fast HTTP/1.1 server for static files. See README.md.
 */
#include "server.h"

int main(int argc, char **argv)
{
    return server_main(argc, argv);
}
