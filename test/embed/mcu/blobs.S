/* The core and the call script as constant bytes in flash: a microcontroller has no file system. */
    .section .wasm_module, "a"
    .balign 4
    .incbin WASM_PATH
    .section .script, "a"
    .incbin SCRIPT_PATH
