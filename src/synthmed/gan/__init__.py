"""GAN training: networks (DCGAN, WGAN-GP, StyleGAN2), the training engine, checkpoints."""
