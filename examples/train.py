#!/usr/bin/env python3
"""A real (small) PyTorch training for the dlenergy demo.

Trains a small CNN on CPU on synthetic images: each of the classes has its own random
template, and every image is its class template plus noise, so the network has
something to learn and the accuracy rises epoch after epoch. It reports its epochs to
dlenergy through clients/python/dlenergy_markers.py (a no-op when not run under
dlenergy):

    dlenergy run --db demo.db -- /usr/bin/python3 examples/train.py --epochs 6

Needs only Debian's python3-torch.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))
import dlenergy_markers as dle  # noqa: E402

try:
    import torch
    from torch import nn
except ImportError:
    sys.exit("examples/train.py needs PyTorch: apt-get install python3-torch")


class SmallCNN(nn.Module):
    def __init__(self, channels, classes, image):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(),
                                        nn.Linear(128, classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def synthetic(n, classes, channels, image, gen):
    templates = torch.randn(classes, channels, image, image, generator=gen)
    labels = torch.randint(0, classes, (n,), generator=gen)
    images = templates[labels] * 0.5 + torch.randn(n, channels, image, image, generator=gen)
    return images, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--image", type=int, default=32, help="image side in pixels")
    ap.add_argument("--train-size", type=int, default=8192)
    ap.add_argument("--val-size", type=int, default=512)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.epochs < 1 or args.batch_size < 1 or args.image < 8:
        ap.error("need --epochs >= 1, --batch-size >= 1, --image >= 8")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    x, y = synthetic(args.train_size + args.val_size, args.classes, 3, args.image, gen)
    xt, yt = x[:args.train_size], y[:args.train_size]
    xv, yv = x[args.train_size:], y[args.train_size:]
    model = SmallCNN(3, args.classes, args.image)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    dle.epochs_total(args.epochs)
    dle.meta(architecture="smallcnn", dataset="synthetic", batch_size=args.batch_size,
             image="%dx%d" % (args.image, args.image), training_size=args.train_size,
             validation_size=args.val_size, framework="pytorch-" + torch.__version__)
    print("training smallcnn on %d synthetic %dx%d images, %d epochs, batch %d"
          % (args.train_size, args.image, args.image, args.epochs, args.batch_size), flush=True)
    for epoch in range(1, args.epochs + 1):
        dle.epoch_begin(epoch)
        t0 = time.monotonic()
        model.train()
        perm = torch.randperm(args.train_size, generator=gen)
        total_loss = 0.0
        for i in range(0, args.train_size, args.batch_size):
            idx = perm[i:i + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            val_acc = (model(xv).argmax(1) == yv).float().mean().item()
        train_loss = total_loss / args.train_size
        dle.epoch_end(epoch, loss=round(train_loss, 5), val_accuracy=round(val_acc, 4))
        print("epoch %d/%d  loss %.4f  val_accuracy %.3f  (%.1f s)"
              % (epoch, args.epochs, train_loss, val_acc, time.monotonic() - t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
