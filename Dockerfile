# Runner nodes judge code drills and need no chat client, no database and no bot settings:
#   docker build --target runner-cpu -t studybot-runner:cpu .
#   docker build --target runner-cuda -t studybot-runner:cuda .   (NVIDIA container toolkit)
# The bot's image is the last stage, so a plain `docker build .` still builds the bot.
FROM python:3.11-slim AS runner-cpu
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
# bot/ only provides the `studybot` command; `studybot worker` runs gpu_runner alone.
COPY bot bot
COPY gpu_runner gpu_runner
# `kernels` (Triton) lets a CPU runner judge the Triton drills under Triton's interpreter.
RUN pip install --no-cache-dir -c constraints.txt \
      --extra-index-url https://download.pytorch.org/whl/cpu '.[runner,kernels]'
RUN useradd --create-home studybot
USER studybot
CMD ["studybot", "worker", "--queue", "cpu"]

FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04 AS runner-cuda
RUN apt-get update && apt-get install -y --no-install-recommends \
      bubblewrap python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/studybot
ENV PATH=/opt/studybot/bin:$PATH
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY bot bot
COPY gpu_runner gpu_runner
# Triton kernels run natively here. CUDA C++ submissions (load_inline) need nvcc: build from a
# `-devel` CUDA image instead of `-runtime` to accept them; without it they are refused clearly.
RUN pip install --no-cache-dir -c constraints.txt '.[runner,kernels]'
RUN useradd --create-home studybot
USER studybot
CMD ["studybot", "worker", "--queue", "cuda"]

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY bot bot
COPY content content
COPY graders graders
COPY gpu_runner gpu_runner
COPY migrations migrations
RUN pip install --no-cache-dir -c constraints.txt \
      --extra-index-url https://download.pytorch.org/whl/cpu '.[all]'
RUN useradd --create-home studybot
USER studybot
# The offline grader's encoder is exported to ONNX from its bundled weights on first use; do it
# here, once, so that no container spends its first seconds on it.
RUN python -c "from graders.embeddings import prepare_encoder; print(prepare_encoder())"
CMD ["studybot", "run", "--require-chat"]
