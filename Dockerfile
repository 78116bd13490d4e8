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
CMD ["studybot", "run", "--require-chat"]
