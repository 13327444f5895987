/* dlopen and dlmopen of the shim on x86-64: ask modelseal_preload_loader_name() which name the
 * loader gets (the file, a sealed verified copy, or -1 to refuse), then jump to the real entry
 * with the caller's return address still on the stack, so the loader searches and places the
 * object as it would for the caller itself (its RUNPATH, its namespace). */
  .text

  .globl dlopen
  .type dlopen, @function
dlopen:
  endbr64
  push %rdi
  push %rsi
  sub $8, %rsp
  call modelseal_preload_loader_name
  add $8, %rsp
  pop %rsi
  pop %rdi
  cmp $-1, %rax
  je 1f
  mov %rax, %rdi
  jmp *modelseal_preload_real_dlopen(%rip)
1:
  xor %eax, %eax
  ret
  .size dlopen, .-dlopen

  .globl dlmopen
  .type dlmopen, @function
dlmopen:
  endbr64
  push %rdi
  push %rsi
  push %rdx
  mov %rsi, %rdi
  mov %rdx, %rsi
  call modelseal_preload_loader_name
  pop %rdx
  pop %rsi
  pop %rdi
  cmp $-1, %rax
  je 1f
  mov %rax, %rsi
  jmp *modelseal_preload_real_dlmopen(%rip)
1:
  xor %eax, %eax
  ret
  .size dlmopen, .-dlmopen

  .section .note.GNU-stack,"",@progbits
