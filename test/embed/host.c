/* A minimal wasm3 host for the core (build/sse-mcu.wasm): the whole ABI call sequence of
 * README "Embedding" — abi_version, init, conn_open, stage the event in staging, send, then
 * out_ptr / out_len / out_consume — printing the framed bytes to stdout.
 *
 *   usage: host MODULE.wasm EVENT DATA      (EVENT "" sends no event name)
 *
 * The core imports nothing, so there is nothing to link (m3_LinkRawFunction would go after
 * m3_LoadModule if it did). Exit status: 0 ok, 1 a wasm3 error or a module of another ABI,
 * 2 a negative status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm3.h"
/* The ABI's numbers, generated from assembly/abi.ts by npm run build:wasm; a host of its own
 * would put build/ on its include path instead. */
#include "../../build/wasm_sse.h"

#define STACK_BYTES 2048 /* the interpreter's stack: the mcu build needs about 1.85 KiB */

static IM3Runtime runtime;

static void check(M3Result r, const char *what) {
    if (r) {
        fprintf(stderr, "%s: %s\n", what, r);
        exit(1);
    }
}

/* An export by name; the module is trusted to have it (the ABI table lists them all). */
static IM3Function find(const char *name) {
    IM3Function f;
    check(m3_FindFunction(&f, runtime, name), name);
    return f;
}

/* The i32 a call returned; a negative status ends the program. */
static int32_t result_i32(IM3Function f, const char *what) {
    int32_t r = 0;
    check(m3_GetResultsV(f, &r), what);
    if (r < 0) {
        fprintf(stderr, "%s: status %d\n", what, r);
        exit(2);
    }
    return r;
}

/* Linear memory as it is now: init may grow it, so never keep this pointer across calls. */
static uint8_t *memory_at(uint32_t ptr, uint32_t len) {
    uint32_t size = 0;
    uint8_t *base = m3_GetMemory(runtime, &size, 0);
    if (!base || ptr > size || len > size - ptr) {
        fprintf(stderr, "address %u+%u outside memory\n", ptr, len);
        exit(1);
    }
    return base + ptr;
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *bytes = malloc(*len);
    if (!bytes || fread(bytes, 1, *len, f) != *len) exit(1);
    fclose(f);
    return bytes;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODULE.wasm EVENT DATA\n", argv[0]);
        return 1;
    }
    size_t wasm_len;
    uint8_t *wasm = read_file(argv[1], &wasm_len);
    const char *event = argv[2], *data = argv[3];
    uint32_t event_len = (uint32_t)strlen(event), data_len = (uint32_t)strlen(data);

    IM3Environment env = m3_NewEnvironment();
    runtime = m3_NewRuntime(env, STACK_BYTES, NULL);
    IM3Module module;
    check(m3_ParseModule(env, &module, wasm, (uint32_t)wasm_len), "parse");
    check(m3_LoadModule(runtime, module), "load");

    IM3Function f = find("abi_version");
    check(m3_CallV(f), "abi_version");
    if (result_i32(f, "abi_version") != SSE_ABI_VERSION) {
        fprintf(stderr, "the module speaks another ABI than wasm_sse.h\n");
        return 1;
    }

    /* 4 connections x 4 KiB outbound, 1 KiB staging, no keep-alive: fits the mcu build's 2 pages. */
    f = find("init");
    check(m3_CallV(f, 4, 4096, 1024, 0.0), "init");
    result_i32(f, "init");

    f = find("conn_open");
    check(m3_CallV(f, -1), "conn_open"); /* -1: the client sent no Last-Event-ID */
    int32_t conn = result_i32(f, "conn_open");

    /* Stage the event name and the data back to back, then frame them in one call. */
    f = find("staging_ptr");
    check(m3_CallV(f), "staging_ptr");
    uint32_t staging = (uint32_t)result_i32(f, "staging_ptr");
    f = find("staging_cap");
    check(m3_CallV(f), "staging_cap");
    if (event_len + data_len > (uint32_t)result_i32(f, "staging_cap")) {
        fprintf(stderr, "event and data do not fit staging\n");
        return 2;
    }
    memcpy(memory_at(staging, event_len), event, event_len);
    memcpy(memory_at(staging + event_len, data_len), data, data_len);
    f = find("send");
    check(m3_CallV(f, conn, event_len ? SSE_HAS_EVENT : 0, event_len, 0, data_len, 0.0), "send");
    result_i32(f, "send");

    /* Drain: copy the pending bytes out (the pointer is valid until the next call), then consume. */
    IM3Function out_ptr = find("out_ptr"), out_len = find("out_len"), out_consume = find("out_consume");
    check(m3_CallV(out_len, conn), "out_len");
    uint32_t n = (uint32_t)result_i32(out_len, "out_len");
    check(m3_CallV(out_ptr, conn), "out_ptr");
    uint32_t p = (uint32_t)result_i32(out_ptr, "out_ptr");
    fwrite(memory_at(p, n), 1, n, stdout);
    check(m3_CallV(out_consume, conn, n), "out_consume");
    result_i32(out_consume, "out_consume");

    m3_FreeRuntime(runtime);
    m3_FreeEnvironment(env);
    free(wasm);
    return 0;
}
