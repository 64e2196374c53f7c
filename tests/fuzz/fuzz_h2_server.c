/* Fuzz the HTTP/2 front alone: the same server harness as
 * fuzz_http_server.c, with the connection preface sent first so every
 * input is read as HTTP/2 frames (SETTINGS, HEADERS with HPACK, DATA,
 * WINDOW_UPDATE, RST_STREAM, GOAWAY...). */
#define FUZZ_H2_ONLY 1
#include "fuzz_http_server.c"
