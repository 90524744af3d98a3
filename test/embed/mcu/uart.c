/* Polled STM32F4 USART output. QEMU's netduinoplus2 wires -serial #0 to USART1 and #1 to USART2
 * and needs no clock, pin or baud-rate setup; a real board does (RCC clock enable, GPIO alternate
 * function, BRR): README "On a microcontroller". */
#include <stddef.h>
#include <stdint.h>

#define USART1 0x40011000u
#define USART2 0x40004400u
#define SR(b) (*(volatile uint32_t *)((b) + 0x00))
#define DR(b) (*(volatile uint32_t *)((b) + 0x04))
#define CR1(b) (*(volatile uint32_t *)((b) + 0x0C))
#define SR_TXE (1u << 7)
#define CR1_UE (1u << 13)
#define CR1_TE (1u << 3)

static void put(uint32_t usart, uint8_t c) {
    while (!(SR(usart) & SR_TXE)) {}
    DR(usart) = c;
}

void uart_init(void) {
    CR1(USART1) = CR1_UE | CR1_TE;
    CR1(USART2) = CR1_UE | CR1_TE;
}

/* USART1 carries only the SSE stream, so the test compares it byte for byte. */
void uart_write(const uint8_t *p, size_t n) {
    while (n--) put(USART1, *p++);
}

/* newlib's printf (and anything else written to any fd) goes to USART2: transcript and report. */
int _write(int fd, const char *p, int n) {
    (void)fd;
    for (int i = 0; i < n; i++) put(USART2, (uint8_t)p[i]);
    return n;
}
