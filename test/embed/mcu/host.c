/* wasm3 running build/sse-mcu.wasm from flash on a Cortex-M4, driven by a call script (built by
 * test/hosts/mcu_script.py from the conformance vectors' steps) at the raw ABI, as README
 * "Embedding" describes it. Output:
 *   USART1: every byte drained from the core, back to back: the SSE stream
 *   USART2: a transcript, one line per step, which test/embed/mcu/replay-v8.mjs writes too:
 *     "V name" (a new vector: fresh runtime and module), "C export result [#instructions]",
 *     "D hex" (drained bytes), "R hex" (bytes read); then "= name value" measurements.
 * Script, little-endian:
 *   'V' u16 len, name
 *   'C' u8 len, export, u8 argc, f64 args[argc], u32 len, bytes to stage first
 *   'D' u32 handle, u8 n, u32 chunks[n] (0: out_take), u32 max (0xFFFFFFFF: no limit)
 *   'R' u8 len, export, u8 argc, f64 args[argc], then u8 0, u32 length
 *                                                or u8 1, u8 len, export, u8 argc, f64 args[argc]
 *   'E' the end */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "wasm3.h"
#include "wasm_sse.h"

void uart_init(void);
void uart_write(const uint8_t *p, size_t n);
size_t fw_stack_used(void);
size_t fw_heap_high_water(void);
size_t fw_heap_room(void);

extern const uint8_t __wasm_start[], __wasm_end[], __script_start[], __script_end[];

/* The mcu build's deepest call chain (send -> JSON record -> number formatting) needs ~1.85 KiB of
 * wasm3 stack (test/hosts/test_limits.py); the release build needs more. */
#ifndef W3_STACK
#define W3_STACK 2048
#endif
#define NO_LIMIT 0xFFFFFFFFu

/* TIM2 free-running at the timer clock. Under QEMU -icount shift=0 a guest instruction takes 1 ns
 * of virtual time and the timer clock is 1 GHz of that, so the counter counts instructions. */
#define TIM2_CR1 (*(volatile uint32_t *)0x40000000u)
#define TIM2_CNT (*(volatile uint32_t *)0x40000024u)
#define TIM2_ARR (*(volatile uint32_t *)0x4000002Cu)

static IM3Environment env;
static IM3Runtime rt;
static const uint8_t *pc;
static unsigned fails;
static size_t in_use_max;

static uint8_t u8(void) { return *pc++; }
static uint32_t u32(void) { uint32_t v; memcpy(&v, pc, 4); pc += 4; return v; }
static double f64(void) { double v; memcpy(&v, pc, 8); pc += 8; return v; }

static IM3Function find(const char *name) {
    IM3Function f;
    M3Result r = m3_FindFunction(&f, rt, name);
    if (r) printf("find %s: %s\n", name, r);
    return r ? NULL : f;
}

/* An export named in the script: a length-prefixed name, copied to be NUL-terminated. */
static IM3Function find_named(char *buf) {
    uint8_t n = u8();
    memcpy(buf, pc, n);
    buf[n] = 0;
    pc += n;
    return find(buf);
}

/* Calls f with numbers (each converted to the parameter's type, i32 or f64); returns the result
 * as a double, or NaN after a trap. */
static double call(IM3Function f, uint8_t argc, const double *args, int *is_f64) {
    int32_t i[8];
    double d[8];
    const void *p[8];
    for (uint8_t k = 0; k < argc && k < 8; k++) {
        if (m3_GetArgType(f, k) == c_m3Type_f64) d[k] = args[k], p[k] = &d[k];
        else i[k] = (int32_t)(int64_t)args[k], p[k] = &i[k];
    }
    M3Result r = m3_Call(f, argc, p);
    if (r) {
        printf("trap %s\n", r);
        fails++;
        return __builtin_nan("");
    }
    int32_t ri = 0;
    double rd = 0;
    int f64_result = m3_GetRetType(f, 0) == c_m3Type_f64;
    const void *rp[1] = {f64_result ? (const void *)&rd : (const void *)&ri};
    m3_GetResults(f, 1, rp);
    if (is_f64) *is_f64 = f64_result;
    return f64_result ? rd : ri;
}

static int32_t call1(const char *name, int argc, int32_t a) {
    IM3Function f = find(name);
    double arg = a;
    return f ? (int32_t)call(f, (uint8_t)argc, &arg, NULL) : INT32_MIN;
}

/* Linear memory, fetched again on every access: a call that grows memory moves it. */
static uint8_t *mem(uint32_t at, uint32_t n) {
    uint32_t size = 0;
    uint8_t *base = m3_GetMemory(rt, &size, 0);
    return base && at <= size && n <= size - at ? base + at : NULL;
}

static void hex(const uint8_t *p, uint32_t n) {
    while (n--) printf("%02x", *p++);
}

static void new_vector(void) {
    if (rt) m3_FreeRuntime(rt);
    rt = m3_NewRuntime(env, W3_STACK, NULL);
    IM3Module mod;
    M3Result r = rt ? m3_ParseModule(env, &mod, __wasm_start, (uint32_t)(__wasm_end - __wasm_start)) : "no runtime";
    if (!r) r = m3_LoadModule(rt, mod);
    if (!r && call1("abi_version", 0, 0) != SSE_ABI_VERSION) r = "not the ABI this host was written for";
    if (r) printf("load: %s\n", r), fails++;
}

static void step_call(void) {
    char name[32];
    IM3Function f = find_named(name);
    uint8_t argc = u8();
    double args[8];
    for (uint8_t k = 0; k < argc; k++) args[k] = f64();
    uint32_t n = u32();
    const uint8_t *stage = pc;
    pc += n;
    if (n) {
        uint8_t *dst = mem((uint32_t)call1("staging_ptr", 0, 0), n);
        if (dst) memcpy(dst, stage, n);
        else printf("stage: out of bounds\n");
    }
    if (!f) return (void)fails++;
    int is_f64;
    unsigned traps = fails;
    uint32_t t0 = TIM2_CNT;
    double r = call(f, argc, args, &is_f64);
    uint32_t insns = TIM2_CNT - t0;
    if (fails != traps) return;
    if (is_f64) {
        uint64_t b;
        memcpy(&b, &r, 8);
        printf("C %s f64:%08lx%08lx\n", name, (unsigned long)(b >> 32), (unsigned long)b);
    } else {
        printf("C %s %ld #%lu\n", name, (long)(int32_t)r, (unsigned long)insns);
    }
    struct mallinfo mi = mallinfo();
    if ((size_t)mi.uordblks > in_use_max) in_use_max = mi.uordblks;
}

/* Drains a connection as README "Embedding" says: out_ptr/out_consume in pieces of the script's
 * sizes, or out_take (piece 0) for all that is pending at once. */
static void step_drain(void) {
    int32_t h = (int32_t)u32();
    uint8_t nc = u8();
    uint32_t chunks[16], got = 0;
    for (uint8_t k = 0; k < nc; k++) chunks[k] = u32();
    uint32_t max = u32();
    IM3Function consume = find("out_consume");
    printf("D ");
    for (unsigned k = 0; max == NO_LIMIT || got < max; k++) {
        int32_t pending = call1("out_len", 1, h);
        if (pending < 0) { printf("!out_len %ld", (long)pending); break; }
        if (pending == 0) break;
        uint32_t chunk = chunks[k % nc], n, at;
        if (chunk == 0) {
            int32_t a = call1("out_take", 1, h);
            const uint8_t *len = mem((uint32_t)call1("taken_ptr", 0, 0), 4);
            if (a <= 0 || !len) { printf("!out_take %ld", (long)a); break; }
            memcpy(&n, len, 4);
            at = (uint32_t)a;
        } else {
            n = (uint32_t)pending < chunk ? (uint32_t)pending : chunk;
            if (max != NO_LIMIT && n > max - got) n = max - got;
            at = (uint32_t)call1("out_ptr", 1, h);
        }
        const uint8_t *src = mem(at, n);
        if (!src) { printf("!oob"); break; }
        hex(src, n);
        uart_write(src, n);
        if (chunk) {
            double a[2] = {h, n};
            int32_t c = (int32_t)call(consume, 2, a, NULL);
            if (c != 0) { printf("!out_consume %ld", (long)c); break; }
        }
        got += n;
    }
    printf("\n");
}

static void step_read(void) {
    char name[32], len_name[32];
    double args[4], len_args[4];
    IM3Function f = find_named(name);
    uint8_t argc = u8();
    for (uint8_t k = 0; k < argc; k++) args[k] = f64();
    int32_t len;
    if (u8() == 0) {
        len = (int32_t)u32();
    } else {
        IM3Function lf = find_named(len_name);
        uint8_t lc = u8();
        for (uint8_t k = 0; k < lc; k++) len_args[k] = f64();
        len = lf ? (int32_t)call(lf, lc, len_args, NULL) : 0;
    }
    const uint8_t *src = f && len > 0 ? mem((uint32_t)(int32_t)call(f, argc, args, NULL), (uint32_t)len) : NULL;
    printf("R ");
    if (src) hex(src, (uint32_t)len);
    else if (len != 0) printf("!oob");
    printf("\n");
}

int main(void) {
    uart_init();
    TIM2_ARR = 0xFFFFFFFFu;
    TIM2_CR1 = 1;
    env = m3_NewEnvironment();
    for (pc = __script_start; pc < __script_end;) {
        uint8_t op = u8();
        if (op == 'E') break;
        if (op == 'V') {
            uint16_t n = (uint16_t)(pc[0] | pc[1] << 8);
            printf("V %.*s\n", n, (const char *)pc + 2);
            pc += 2 + n;
            new_vector();
        } else if (op == 'C') step_call();
        else if (op == 'D') step_drain();
        else if (op == 'R') step_read();
        else return printf("bad script op %d\n", op), 4;
    }
    uint32_t pages = 0;
    if (rt) m3_GetMemory(rt, &pages, 0), pages /= 65536;
    printf("= fails %u\n= heap_high_water %u\n= heap_room %u\n= heap_in_use_max %u\n= stack_peak %u\n= linear_pages %lu\n",
           fails, (unsigned)fw_heap_high_water(), (unsigned)fw_heap_room(), (unsigned)in_use_max,
           (unsigned)fw_stack_used(), (unsigned long)pages);
    return fails ? 1 : 0;
}
