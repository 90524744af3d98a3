/* Reset, faults, and the few hooks newlib needs on bare metal: a heap bounded by the linker
 * script, stack painting (to measure the deepest stack), and an exit code QEMU passes on. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

extern uint32_t __etext, __data_start, __data_end, __bss_start, __bss_end;
extern uint8_t __heap_start, __stack_limit, __stack_top;
int main(void);
int _write(int fd, const char *p, int n);
void Reset_Handler(void);
void Fault_Handler(void);

#define PAINT 0xC5C5C5C5u

__attribute__((section(".vectors"), used)) const void *const vectors[16] = {
    &__stack_top,  Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, 0,             0,             0,             0,             Fault_Handler,
    Fault_Handler, 0,             Fault_Handler, Fault_Handler,
};

/* Semihosting SYS_EXIT_EXTENDED: QEMU (-semihosting-config enable=on) exits with this code, so
 * the test learns how the firmware ended without parsing its output. On a real board without a
 * debugger attached, bkpt faults instead: there, loop or reset. */
__attribute__((noreturn)) void _exit(int code) {
    uint32_t block[2] = {0x20026 /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
    register int r0 __asm__("r0") = 0x20;
    register void *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {}
}

void Fault_Handler(void) {
    _write(2, "FAULT\n", 6);
    _exit(3);
}

void Reset_Handler(void) {
    uint32_t *src = &__etext, *dst = &__data_start;
    while (dst < &__data_end) *dst++ = *src++;
    for (dst = &__bss_start; dst < &__bss_end;) *dst++ = 0;
    /* Paint the free stack (leaving this frame alone) so fw_stack_used can find the deepest use. */
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = (uint32_t *)&__stack_limit; p < sp - 16; p++) *p = PAINT;
    _exit(main());
}

/* The deepest C stack so far, in bytes: from the top down to the lowest word no longer painted. */
size_t fw_stack_used(void) {
    uint32_t *p = (uint32_t *)&__stack_limit;
    while (p < (uint32_t *)&__stack_top && *p == PAINT) p++;
    return (size_t)((uint8_t *)&__stack_top - (uint8_t *)p);
}

/* malloc's memory: from the end of .bss up to the stack's reserve, never further. */
static uint8_t *brk = &__heap_start, *brk_max = &__heap_start;
void *_sbrk(ptrdiff_t incr) {
    uint8_t *old = brk;
    if (incr > 0 && (size_t)incr > (size_t)(&__stack_limit - brk)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += incr;
    if (brk > brk_max) brk_max = brk;
    return old;
}
size_t fw_heap_high_water(void) { return (size_t)(brk_max - &__heap_start); }
size_t fw_heap_room(void) { return (size_t)(&__stack_limit - &__heap_start); }

/* No files: what newlib's stdio links against. */
int _close(int fd) { (void)fd; return -1; }
int _fstat(int fd, struct stat *st) { (void)fd; st->st_mode = S_IFCHR; return 0; }
int _isatty(int fd) { (void)fd; return 1; }
int _lseek(int fd, int off, int whence) { (void)fd; (void)off; (void)whence; return 0; }
int _read(int fd, char *buf, int len) { (void)fd; (void)buf; (void)len; return 0; }
int _getpid(void) { return 1; }
int _kill(int pid, int sig) { (void)pid; (void)sig; return -1; }
