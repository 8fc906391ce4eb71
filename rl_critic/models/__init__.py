"""Loading models: the one loader (`loader`: tiny names, folders, hub ids, LoRA/QLoRA, pixel bounds, left
padding), image input (`vision`), and the tiny offline checkpoints every test and the demo use (`tiny`)."""
