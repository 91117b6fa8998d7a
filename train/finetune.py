"""Fine-tune a personal style from a few images; the same options and output as `stylegan-hub finetune`.

    python train/finetune.py --style-images my_style/ --output-dir outputs/my-style
    accelerate launch --multi_gpu --num_processes 4 train/finetune.py --style-images my_style/ --output-dir outputs/my-style

The Accelerate loop lives in `stylegan_hub/training/finetune.py`, so this script, the CLI and the app run one loop.
"""

from stylegan_hub.training.finetune import main, parse_args

if __name__ == "__main__":
    main(parse_args())
