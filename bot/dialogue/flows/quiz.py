"""Quizzes at the end of a module.

Payloads: ``quiz:<topic>`` starts, ``quiz:<topic>:<question>`` shows a question,
``quiz:<topic>:<question>:<answer index>`` answers it. The run in progress (which
questions were answered, how many right) lives in the conversation's memory; every
answer is also stored, linked to the user only with their consent.
"""

from __future__ import annotations

from bot.content.models import Topic
from bot.dialogue.flows.modules import menu_button, menu_buttons
from bot.dialogue.memory import QuizProgress
from bot.dialogue.payloads import QuizAnswer, QuizQuestion, QuizStart
from bot.dialogue.turn import Turn
from bot.dialogue.types import Button, State


def press(turn: Turn, payload: QuizStart | QuizQuestion | QuizAnswer) -> bool:
    topic = turn.catalog.topics.get(payload.topic)
    if topic is None or not topic.quiz:
        return False
    if isinstance(payload, QuizStart):
        turn.memory.quiz = QuizProgress(topic.id)
        question(turn, topic, 0, intro=True)
        return True
    index = next((i for i, q in enumerate(topic.quiz) if q.id == payload.question), None)
    if index is None:
        return False
    if isinstance(payload, QuizQuestion):
        question(turn, topic, index)
        return True
    if payload.answer >= len(topic.quiz[index].answers):
        return False
    answer(turn, topic, index, payload.answer)
    return True


def question(turn: Turn, topic: Topic, index: int, *, intro: bool = False) -> None:
    asked = topic.quiz[index]
    buttons = [
        Button(turn.t(choice.label), QuizAnswer(topic.id, asked.id, i).pack())
        for i, choice in enumerate(asked.answers)
    ]
    buttons.append(menu_button(turn))
    if intro:
        turn.say("quiz.intro")
    turn.say(asked.question, buttons)
    turn.go(State.QUIZ, topic.id, index)
    turn.meta.topic = topic.id


def answer(turn: Turn, topic: Topic, index: int, choice: int) -> None:
    asked = topic.quiz[index]
    chosen = asked.answers[choice]
    run = turn.memory.quiz
    if run is None or run.topic != topic.id:
        # An answer from an older message: count it in a fresh run of this quiz.
        run = QuizProgress(topic.id)
    answered = run.answered
    if asked.id not in answered:
        answered[asked.id] = chosen.correct
        turn.quiz_answers.append((topic.id, asked.id, choice, chosen.correct))
    turn.memory.quiz = run
    turn.meta.topic = topic.id
    following = next(
        (i for i in range(index + 1, len(topic.quiz)) if topic.quiz[i].id not in answered),
        None,
    )
    if following is None:
        following = next((i for i, q in enumerate(topic.quiz) if q.id not in answered), None)
    if following is not None:
        next_button = Button(
            turn.t("quiz.next"), QuizQuestion(topic.id, topic.quiz[following].id).pack()
        )
        turn.say(chosen.feedback, [next_button, menu_button(turn)])
        turn.go(State.QUIZ, topic.id, index)
        return
    # Every question answered: the score, then back to the menu.
    correct = sum(1 for right in answered.values() if right)
    turn.say(chosen.feedback)
    turn.say(
        "quiz.score",
        menu_buttons(turn),
        fields={"correct": correct, "total": len(topic.quiz)},
    )
    turn.memory.quiz = None
    turn.go(State.MENU)
